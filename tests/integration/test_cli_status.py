"""``bodhi status``, ``models`` and ``doctor``, ``/health`` and the first-start output, against
the real companion started as a subprocess."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from companion import __version__
from tests.conftest import Companion, db_path, free_port, running_companion

MODEL = "smollm2:135m"
CLI_SECS = 90
START_SECS = 30
MARK = r"(?:✓|ok  )"
FAILED = r"(?:✗|FAIL)"


@pytest.fixture(scope="module")
def companion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    root = tmp_path_factory.mktemp("status")
    # A HOME of its own: the doctor looks for browsers' native-host folders there.
    (root / "user").mkdir()
    with running_companion(root, HOME=str(root / "user")) as running:
        yield running


def bodhi(companion: Companion, *args: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "companion", *args], env=env or companion.env,
                          capture_output=True, text=True, timeout=CLI_SECS)


def test_status_of_a_running_companion(companion: Companion) -> None:
    done = bodhi(companion, "status")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"Bodhi companion is running at {companion.url}"
    assert re.search(rf"version:\s+{re.escape(__version__)}$", done.stdout, re.M)
    assert re.search(r"sign-in mode:\s+local \(only you, ", done.stdout)
    assert re.search(r"extension:\s+not paired", done.stdout)
    bodhi(companion, "chat", MODEL, "hi", "--max-tokens", "2")
    loaded = bodhi(companion, "status")
    assert re.search(rf"loaded models:\s+{re.escape(MODEL)} \(ready\)", loaded.stdout)


def test_models_lists_aliases_files_and_loaded(companion: Companion) -> None:
    done = bodhi(companion, "models")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["ALIAS", "SOURCE", "FILE"]
    assert lines[1].split()[:2] == [MODEL, "embedded"]
    assert "no model files in the cache" in done.stdout
    assert re.search(r"^LOADED\s+STATE", done.stdout, re.M)


def test_doctor_passes_with_a_running_companion(companion: Companion) -> None:
    done = bodhi(companion, "doctor")
    assert done.returncode == 0, done.stdout
    out = done.stdout
    assert re.search(rf"^{MARK} companion: running at {companion.url}, version "
                     rf"{re.escape(__version__)}, ready$", out, re.M)
    assert re.search(rf"^{MARK} data directory: ", out, re.M)
    assert re.search(rf"^{MARK} models: {re.escape(MODEL)} \(embedded\)", out, re.M)
    assert re.search(rf"^{MARK} llama.cpp: the bundled launcher starts", out, re.M)
    assert "extension: not paired" in out and out.rstrip().endswith("No problems found.")


def test_doctor_checks_the_native_host_of_each_browser_found(companion: Companion) -> None:
    user = Path(companion.env["HOME"])
    (user / ".config" / "chromium").mkdir(parents=True)
    try:
        missing = bodhi(companion, "doctor")
        assert missing.returncode == 1
        assert re.search(rf"^{FAILED} native host \(chromium\): no manifest in ", missing.stdout,
                         re.M)
        assert "    fix: bodhi install-native-host --browser chromium" in missing.stdout
        bodhi(companion, "install-native-host", "--browser", "chromium")
        installed = bodhi(companion, "doctor")
        assert re.search(rf"^{MARK} native host \(chromium\): ", installed.stdout, re.M)
        assert installed.returncode == 0, installed.stdout
    finally:
        bodhi(companion, "uninstall-native-host", "--browser", "chromium")
        (user / ".config" / "chromium" / "NativeMessagingHosts").rmdir()
        (user / ".config" / "chromium").rmdir()


def test_doctor_notes_a_paired_extension(companion: Companion) -> None:
    code = bodhi(companion, "pair").stdout.strip().splitlines()[-1]
    paired = httpx.post(companion.url + "/bodhi/v1/apps/extension/pair", timeout=30,
                        json={"code": code, "extension_id": "test-ext", "browser": "chromium"})
    assert paired.status_code == 200, paired.text
    assert re.search(rf"^{MARK} extension: paired", bodhi(companion, "doctor").stdout, re.M)
    assert re.search(r"extension:\s+paired \(chromium, since ", bodhi(companion, "status").stdout)


def test_health_is_503_while_the_database_file_is_gone(companion: Companion) -> None:
    path = db_path(companion.home)
    aside = path.with_name("moved-away.sqlite")
    assert httpx.get(companion.url + "/health").status_code == 200
    path.rename(aside)
    try:
        health = httpx.get(companion.url + "/health")
        assert health.status_code == 503
        assert health.json()["error"]["code"] == "not_ready"
        assert "is missing" in health.json()["error"]["message"]
        assert httpx.get(companion.url + "/ping").status_code == 200
        doctor = bodhi(companion, "doctor")
        assert doctor.returncode == 1
        assert re.search(rf"^{FAILED} companion: running at .*, not ready: Not ready: the "
                         "database file .* is missing", doctor.stdout, re.M)
    finally:
        aside.rename(path)
    assert httpx.get(companion.url + "/health").status_code == 200


def test_doctor_and_status_of_a_stopped_companion(tmp_path: Path) -> None:
    stopped = Companion(tmp_path, HOME=str(tmp_path))
    doctor = bodhi(stopped, "doctor")
    assert doctor.returncode == 1
    assert re.search(rf"^{FAILED} companion: nothing answers at {stopped.url}$", doctor.stdout,
                     re.M)
    assert "    fix: start it: bodhi serve\n" in doctor.stdout
    status = bodhi(stopped, "status")
    assert status.returncode == 1
    assert status.stderr == (f"bodhi: the companion is not running at {stopped.url}. "
                             "Start it with: bodhi serve\n")


@contextlib.contextmanager
def serving(env: dict[str, str], *flags: str) -> Iterator[str]:
    """``bodhi serve``: yields the command its startup output offers to paste."""
    with subprocess.Popen([sys.executable, "-m", "companion", "serve", *flags], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(5)]
            assert lines[3] == "Try it:\n", lines
            yield lines[4].strip()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(START_SECS)


def api_tokens(home: Path) -> int:
    with contextlib.closing(sqlite3.connect(db_path(home))) as db:
        return int(db.execute("SELECT count(*) FROM api_tokens").fetchone()[0])


def test_first_start_prints_a_command_that_works_and_makes_no_token(tmp_path: Path) -> None:
    home = tmp_path / "bodhi"
    env = {**os.environ, "BODHI_HOME": str(home), "HF_HOME": str(tmp_path / "hf")}
    env.pop("BODHI_PORT", None)
    for _ in range(2):
        port = str(free_port())
        with serving(env, "--port", port) as command:
            assert command.endswith(f"chat {MODEL} 'Say hello' --port {port}"), command
            done = subprocess.run(command + " --max-tokens 8", shell=True, env=env,
                                  capture_output=True, text=True, timeout=CLI_SECS)
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip()
    assert api_tokens(home) == 0


def test_a_companion_of_another_home_is_not_trusted(companion: Companion,
                                                    tmp_path: Path) -> None:
    other = tmp_path / "other"
    env = {**companion.env, "BODHI_HOME": str(other)}
    assert bodhi(companion, "token", "list", env=env).returncode == 0  # makes owner.secret
    doctor = bodhi(companion, "doctor", env=env)
    assert doctor.returncode == 1
    assert re.search(rf"^{FAILED} companion: something answers at {companion.url}, but it is "
                     f"not the companion of {other}$", doctor.stdout, re.M)
    status = bodhi(companion, "status", env=env)
    assert status.returncode == 1
    assert "could not prove it is the companion of" in status.stderr
    assert "nothing was sent to it" in status.stderr
