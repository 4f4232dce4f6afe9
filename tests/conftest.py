"""Shared fixtures: a real companion started as a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from companion.core.settings import load_settings
from companion.models.catalog import embedded_model

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def db_path(home: Path) -> Path:
    """The main database of the companion whose BODHI_HOME is ``home``."""
    return load_settings(env={"BODHI_HOME": str(home)}).db_path


def wait_until(predicate: object, timeout: float, interval: float = 0.05) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class Companion:
    """``bodhi serve`` in a subprocess with its own BODHI_HOME and HF cache."""

    def __init__(self, root: Path, **env: str) -> None:
        self.home = root / "bodhi"
        self.hf_home = root / "hf"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "BODHI_HOME": str(self.home), "HF_HOME": str(self.hf_home),
                    "BODHI_PORT": str(self.port), "BODHI_LOG_LEVEL": "DEBUG", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "companion", *args], env=self.env,
                              capture_output=True, timeout=60, check=True)
        return done.stdout.decode()

    def create_token(self, name: str = "test") -> str:
        return self.cli("token", "create", "--name", name).strip().splitlines()[-1]

    def start(self) -> Companion:
        self.home.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "companion", "serve"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        if not wait_until(self._answers, START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"companion did not start; log:\n{self.log_text()}")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"companion exited with {self.proc.returncode}:\n"
                               f"{self.log_text()}")
        try:
            return httpx.get(self.url + "/ping", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def children(self) -> list[psutil.Process]:
        """llama.cpp children (launcher processes) of this companion."""
        assert self.proc is not None
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [k for k in kids if _is_running(k)]

    def log_text(self) -> str:
        path = self.home / "logs" / "bodhi.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def listener_on(port: int) -> psutil.Process | None:
    """The process listening on a TCP port (e.g. a companion that a native host started)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    return None


def stop_listener(port: int, timeout: float = 30) -> None:
    """Stop, by its PID, whatever a test left listening on ``port``."""
    with contextlib.suppress(psutil.NoSuchProcess):
        started = listener_on(port)
        if started is not None:
            started.terminate()
            started.wait(timeout)


def _is_running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def alive(pids: list[int]) -> list[int]:
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            if _is_running(psutil.Process(pid)):
                found.append(pid)
    return found


@contextlib.contextmanager
def running_companion(root: Path, **env: str) -> Iterator[Companion]:
    companion = Companion(root, **env)
    try:
        yield companion.start()
    finally:
        pids = [c.pid for c in companion.children()] if companion.proc else []
        companion.stop()
        for pid in alive(pids):
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).kill()


@pytest.fixture(scope="session")
def model_path() -> Path:
    model = embedded_model()
    if model is None:
        pytest.fail("the embedded model is not installed: run scripts/install")
    return model.path


@pytest.fixture(scope="session")
def shared_companion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    """One companion for the tests that do not stop, kill or reconfigure it."""
    with running_companion(tmp_path_factory.mktemp("shared")) as companion:
        yield companion


@pytest.fixture(scope="session")
def token(shared_companion: Companion) -> str:
    return shared_companion.create_token("shared")
