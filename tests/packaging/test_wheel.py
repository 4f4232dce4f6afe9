"""The wheels as a user installs them: built by scripts/build_wheel.py, installed with pip into
a fresh virtual environment outside the repository, and run from there with nothing of the
source tree on sys.path. Slow (a venv and pip): skip with ``-m "not slow"``."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from native_host.framing import read_frame, write_frame
from native_host.ids import CHROME_EXTENSION_ID, HOST_NAME
from tests.conftest import free_port, wait_until
from tests.extension_manifest import missing_files

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@dataclass
class Install:
    """A venv with bodhi-companion installed from the built wheels, and a clean environment."""

    root: Path
    venv: Path
    env: dict[str, str]

    def bodhi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "bodhi"), *args], env=self.env,
                              cwd=self.root, capture_output=True, text=True, timeout=120,
                              check=check)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    root = tmp_path_factory.mktemp("wheel-install")
    dist = root / "dist"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_wheel.py"), "--dist",
                    str(dist)], check=True, capture_output=True, timeout=600)
    wheels = sorted(p.name for p in dist.glob("*.whl"))
    assert [w.split("-")[0] for w in wheels] == ["bodhi_companion", "bodhi_model_smollm2"]
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # pip may fetch the other dependencies from the package index (or its cache).
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "--find-links", str(dist),
                    "bodhi-companion"], cwd=root, check=True, capture_output=True, timeout=900)
    home = root / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "BODHI_HOME": str(root / "bodhi"),
           "HF_HOME": str(root / "hf"), "BODHI_PORT": str(free_port())}
    return Install(root, venv, env)


def test_the_install_runs_from_site_packages_only(install: Install) -> None:
    probe = ("import companion, native_host, bodhi_model_smollm2, sys; "
             "print(companion.__file__); print(native_host.__file__); "
             "print(bodhi_model_smollm2.path()); print(sys.path)")
    out = subprocess.run([str(install.venv / "bin" / "python"), "-c", probe], env=install.env,
                         cwd=install.root, capture_output=True, text=True, check=True,
                         timeout=60).stdout.splitlines()

    site = str(install.venv)
    assert all(line.startswith(site) for line in out[:3]), out
    assert str(ROOT) not in out[3]


@pytest.fixture(scope="module")
def served(install: Install) -> Iterator[str]:
    url = f"http://127.0.0.1:{install.env['BODHI_PORT']}"
    proc = subprocess.Popen([str(install.venv / "bin" / "bodhi"), "serve"], env=install.env,
                            cwd=install.root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)

    def answers() -> bool:
        assert proc.poll() is None, f"bodhi serve exited with {proc.returncode}"
        try:
            return httpx.get(url + "/ping", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        assert wait_until(answers, 60), "bodhi serve did not answer /ping"
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_serve_answers_and_chats_with_the_embedded_model(install: Install, served: str) -> None:
    token = install.bodhi("token", "create", "--name", "wheel").stdout.strip().splitlines()[-1]

    models = httpx.get(served + "/v1/models", timeout=30,
                       headers={"Authorization": f"Bearer {token}"}).json()
    reply = httpx.post(served + "/v1/chat/completions", timeout=120,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"model": "smollm2:135m", "max_tokens": 8,
                             "messages": [{"role": "user", "content": "Say hello"}]})

    assert "smollm2:135m" in [m["id"] for m in models["data"]]
    assert reply.status_code == 200, reply.text
    # The web UI and its vendored libraries are package data.
    ui = httpx.get(served + "/ui/", timeout=30)
    assert ui.status_code == 200 and "/ui/js/main.js" in ui.text
    assert httpx.get(served + "/ui/vendor/purify.es.mjs", timeout=30).status_code == 200
    body = reply.json()
    assert body["model"] == "smollm2:135m"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["usage"]["completion_tokens"] > 0


def test_the_installed_native_host_answers(install: Install, served: str) -> None:
    profile = install.root / "chromium-profile"
    done = install.bodhi("install-native-host", "--browser", "chromium", "--user-data-dir",
                         str(profile))
    manifest_path = profile / "NativeMessagingHosts" / f"{HOST_NAME}.json"
    assert str(manifest_path) in done.stdout

    manifest = json.loads(manifest_path.read_text())
    launcher = Path(manifest["path"])
    assert launcher.is_file() and os.access(launcher, os.X_OK)
    assert str(install.venv) in launcher.read_text()
    request = io.BytesIO()
    write_frame(request, {"id": 1, "action": "ping"})
    write_frame(request, {"id": 2, "action": "status"})
    # As the browser starts it: the launcher alone, the origin as its argument, its own env.
    ran = subprocess.run([str(launcher), f"chrome-extension://{CHROME_EXTENSION_ID}/"],
                         input=request.getvalue(), capture_output=True, timeout=60,
                         cwd=launcher.parent, env={"PATH": "/usr/bin:/bin"})
    replies = io.BytesIO(ran.stdout)
    pong, status = read_frame(replies), read_frame(replies)

    assert pong is not None and pong["result"]["pong"] is True, ran.stderr
    assert status is not None and status["result"]["running"] is True
    assert status["result"]["url"] == served


def test_the_exported_extension_is_complete(install: Install) -> None:
    out = install.root / "extension"
    done = install.bodhi("extension", "export", str(out), "--zip")

    assert "chrome://extensions" in done.stdout and "about:debugging" in done.stdout
    for browser in ("chrome", "firefox"):
        assert missing_files(out / f"bodhi-{browser}") == []
    assert len(list(out.glob("bodhi-*.zip"))) == 2


def test_chromium_starts_the_exported_extension(install: Install) -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: scripts/test installs it (apt-get install chromium)")
    out = install.root / "for-chromium"
    install.bodhi("extension", "export", str(out), "--browser", "chrome")
    extension = out / "bodhi-chrome"
    profile = install.root / "chromium-load"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=False,
            ignore_default_args=["--disable-extensions"],
            args=["--headless=new", "--no-sandbox", "--no-first-run",
                  f"--disable-extensions-except={extension}", f"--load-extension={extension}"],
            env={**os.environ, "HOME": str(profile)})
        try:
            worker = (context.service_workers[0] if context.service_workers
                      else context.wait_for_event("serviceworker", timeout=30_000))
            assert worker.url == f"chrome-extension://{CHROME_EXTENSION_ID}/background/main.js"
        finally:
            context.close()
