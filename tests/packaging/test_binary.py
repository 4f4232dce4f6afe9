"""The one-file binary on a machine without Python: PATH holds only a folder with ``bodhi``.

``scripts/build_binary`` builds ``dist/bodhi`` (and returns at once when its inputs are
unchanged). Each test runs the binary with an environment built from scratch, as ``env -i``
would: no PYTHONPATH, no VIRTUAL_ENV, and ``TMPDIR`` in the test's folder so that the folders
the binary unpacks itself into can be counted.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import psutil
import pytest

from companion.core.parent_watch import PARENT_PID_ENV
from native_host.framing import read_frame, write_frame
from native_host.ids import CHROME_EXTENSION_ID, HOST_NAME
from tests.conftest import free_port, stop_listener, wait_until
from tests.integration.mcp_api import sdk_session
from tests.integration.mcp_stdio import call_text

# The first test also waits for the build (minutes on a busy 2-core machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 840
START_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def binary_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding only a copy of the freshly built binary: the test's whole PATH."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_binary")], check=True,
                   timeout=BUILD_TIMEOUT, cwd=ROOT)
    folder = tmp_path_factory.mktemp("bin")
    shutil.copy2(ROOT / "dist" / "bodhi", folder / "bodhi")
    return folder


class Machine:
    """A scratch HOME, BODHI_HOME, HF cache and TMPDIR, and PATH with only the binary."""

    def __init__(self, root: Path, binary_dir: Path) -> None:
        self.bin = binary_dir / "bodhi"
        self.tmp = root / "tmp"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        for folder in ("home", "tmp"):
            (root / folder).mkdir()
        self.env = {"PATH": str(binary_dir), "HOME": str(root / "home"),
                    "BODHI_HOME": str(root / "home" / ".bodhi"), "HF_HOME": str(root / "hf"),
                    "TMPDIR": str(self.tmp), "BODHI_PORT": str(self.port),
                    "BODHI_KEEP_ALIVE_SECS": "-1"}

    def run(self, *args: str, stdin: bytes = b"", **env: str) -> str:
        done = subprocess.run(["bodhi", *args], env={**self.env, **env}, input=stdin,
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return done.stdout.decode()

    def unpacked(self) -> list[Path]:
        return sorted(self.tmp.glob("_MEI*"))

    def answers(self) -> bool:
        try:
            return httpx.get(self.url + "/ping", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def chat(self) -> dict[str, Any]:
        token = self.run("token", "create", "--name", "binary").strip().splitlines()[-1]
        reply = httpx.post(self.url + "/v1/chat/completions", timeout=120,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"model": "smollm2:135m", "max_tokens": 8,
                                 "messages": [{"role": "user", "content": "Say hi"}]})
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    @property
    def home(self) -> Path:
        return Path(self.env["BODHI_HOME"])

    def owner(self) -> httpx.Client:
        """The owner's browser, signed in with the one-time link ``bodhi open`` prints."""
        link = self.run("open", "--no-browser").strip().splitlines()[-1]
        client = httpx.Client(base_url=self.url, timeout=60)
        assert client.get(link).status_code == 200
        return client

    def log(self) -> str:
        path = Path(self.env["BODHI_HOME"]) / "logs" / "bodhi.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"


@contextlib.contextmanager
def serving(machine: Machine, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["bodhi", "serve"], env={**machine.env, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: machine.answers() or proc.poll() is not None, START_TIMEOUT)
        assert proc.poll() is None, machine.log()
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)     # the bootloader passes it on to the companion
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def launcher_children(proc_pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(proc_pid).children(recursive=True)
            if "companion.inference.launcher" in p.cmdline()]


def test_help_and_version_without_python(tmp_path: Path, binary_dir: Path) -> None:
    machine = Machine(tmp_path, binary_dir)

    assert machine.run("--version").strip().startswith("bodhi ")
    usage = machine.run("--help")
    assert "serve" in usage and "__module" not in usage
    assert machine.unpacked() == []          # the unpacked folder is gone after exit


def test_the_binary_exports_the_extension_it_carries(tmp_path: Path, binary_dir: Path) -> None:
    machine = Machine(tmp_path, binary_dir)
    out = tmp_path / "extension"

    machine.run("extension", "export", str(out), "--zip")

    for browser in ("chrome", "firefox"):
        manifest = json.loads((out / f"bodhi-{browser}" / "manifest.json").read_text())
        assert manifest["manifest_version"] == 3
        assert (out / f"bodhi-{browser}" / "guide" / "guide.html").is_file()
    assert len(list(out.glob("bodhi-*.zip"))) == 2


def test_serve_answers_ping_and_chats_with_the_embedded_model(tmp_path: Path,
                                                              binary_dir: Path) -> None:
    machine = Machine(tmp_path, binary_dir)
    with serving(machine) as proc:
        assert httpx.get(machine.url + "/ping", timeout=5).json() == {"message": "pong"}
        # The web UI and its vendored libraries travel inside the binary.
        assert httpx.get(machine.url + "/ui/chat", timeout=5).status_code == 200
        assert httpx.get(machine.url + "/ui/vendor/marked.esm.js", timeout=5).status_code == 200
        reply = machine.chat()
        assert reply["model"] == "smollm2:135m"
        assert reply["choices"][0]["message"]["role"] == "assistant"

        [child] = launcher_children(proc.pid)
        assert child.cmdline()[:3] == [str(machine.bin), "__module",
                                       "companion.inference.launcher"]
        # The llama.cpp child reused the companion's unpacked files instead of its own copy.
        assert len(machine.unpacked()) == 1
    assert wait_until(lambda: machine.unpacked() == [], 30)


def test_llama_server_setting_overrides_the_bundled_launcher(tmp_path: Path,
                                                             binary_dir: Path) -> None:
    machine = Machine(tmp_path, binary_dir)
    seen = tmp_path / "llama-server.env"
    # A stand-in for a real llama-server binary: it notes its environment, then runs the
    # bundled one as a program of its own (which unpacks its own copy of the binary, so the
    # companion is its grandparent: the exec guard's death signal covers it, not the pid).
    script = tmp_path / "llama-server"
    script.write_text(f"#!/bin/sh\n/usr/bin/env > {seen}\nunset {PARENT_PID_ENV}\n"
                      f"exec {machine.bin} __module companion.inference.launcher \"$@\"\n")
    script.chmod(0o755)
    with serving(machine, BODHI_LLAMA_SERVER=str(script)):
        assert machine.chat()["choices"]
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    # A program that is not ours sees the environment the binary was started with.
    assert not [name for name in env if name.startswith("_PYI_")]
    assert "LD_LIBRARY_PATH" not in env
    assert env["PATH"] == machine.env["PATH"]


def _host(launcher: Path, machine: Machine, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the host as a browser does: the launcher, frames on stdin, the extension's origin."""
    request = io.BytesIO()
    for message in messages:
        write_frame(request, message)
    origin = f"chrome-extension://{CHROME_EXTENSION_ID}/"
    done = subprocess.run([str(launcher), origin], env=machine.env, input=request.getvalue(),
                          capture_output=True, timeout=180)
    replies, stream = [], io.BytesIO(done.stdout)
    while (reply := read_frame(stream)) is not None:
        replies.append(reply)
    assert replies, done.stderr.decode(errors="replace")
    return replies


def test_native_host_launcher_runs_the_binary_and_starts_a_lasting_companion(
        tmp_path: Path, binary_dir: Path) -> None:
    machine = Machine(tmp_path, binary_dir)
    profile = tmp_path / "profile"
    machine.run("install-native-host", "--user-data-dir", str(profile))
    manifest = json.loads((profile / "NativeMessagingHosts" / f"{HOST_NAME}.json").read_text())
    launcher = Path(manifest["path"])
    assert f"{machine.bin} __module native_host" in launcher.read_text()

    try:
        pong, started = _host(launcher, machine, {"id": 1, "action": "ping"},
                              {"id": 2, "action": "start"})
        assert pong["ok"] is True and pong["result"]["pong"] is True, pong
        assert started["ok"] is True and started["result"]["started"] is True, started
        # The host has exited and its unpacked folder is gone; the companion it started has
        # its own, so it still reads its files (the model, the migrations) and chats.
        assert wait_until(lambda: len(machine.unpacked()) == 1, 30), machine.unpacked()
        assert machine.answers()
        assert machine.chat()["choices"]
    finally:
        stop_listener(machine.port)


def test_a_stdio_mcp_server_runs_under_the_binarys_guard(tmp_path: Path,
                                                          binary_dir: Path) -> None:
    """The bridge and its exec guard are the binary again; the server is a program of its own
    (here the test suite's Python MCP server, named by its full path)."""
    machine = Machine(tmp_path, binary_dir)
    with serving(machine) as proc, contextlib.closing(machine.owner()) as owner:
        server = owner.post("/bodhi/v1/mcps/servers", json={
            "name": "local tools", "command": sys.executable, "cwd": str(ROOT),
            "args": ["-m", "tests.mcp_servers.tools", "--stdio"]})
        assert server.status_code == 201, server.text
        instance = owner.post("/bodhi/v1/mcps", json={
            "server_id": server.json()["id"], "name": "local", "slug": "local"})
        assert instance.status_code == 201, instance.text
        token = owner.post("/bodhi/v1/tokens", json={"name": "mcp",
                                                     "mcps": [instance.json()["id"]]})
        assert token.status_code == 201, token.text

        async def add() -> str:
            url = f"{machine.url}/bodhi/v1/mcps/{instance.json()['id']}/mcp"
            async with sdk_session(url, token.json()["token"]) as session:
                return await call_text(session, "add", a=2, b=2)

        assert anyio.run(add) == "4", machine.log()
        bridges = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if "companion.mcp.stdio_bridge" in p.cmdline()]
        assert [b.cmdline()[:2] for b in bridges] == [[str(machine.bin), "__module"]]
        # The bridge and the guard shared the companion's unpacked files.
        assert len(machine.unpacked()) == 1
