"""Servers for the benches in this folder: a companion (``python -m companion serve``) with a
temporary ``BODHI_HOME`` and an API token, and a llama.cpp child started directly with the
bundled launcher. Each is stopped by its PID when its ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from companion.core.parent_watch import PARENT_PID_ENV

HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def wait_ok(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    started = time.monotonic()
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() - started < START_TIMEOUT_S:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode}; log {log}:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready in {START_TIMEOUT_S:.0f}s; log {log}:\n{tail(log)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT_S)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BODHI_") and k != "HF_HOME"}


@dataclass
class Running:
    url: str
    token: str          # empty for a direct child
    home: Path | None   # the companion's BODHI_HOME


@contextlib.contextmanager
def companion(**settings: str) -> Iterator[Running]:
    """A companion with default settings but ``settings`` and a power-user API token."""
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-") as tmp:
        home, port = Path(tmp) / "home", free_port()
        env = {**_clean_env(), "BODHI_HOME": str(home), "HF_HOME": str(Path(tmp) / "hf"),
               "BODHI_KEEP_ALIVE_SECS": "-1", "BODHI_LOG_LEVEL": "WARNING", **settings}
        created = subprocess.run(
            [sys.executable, "-m", "companion", "token", "create", "--name", "bench",
             "--scope", "scope_token_power_user"],
            env=env, capture_output=True, timeout=60, check=False)
        if created.returncode != 0:
            raise RuntimeError(f"token create failed: {created.stderr.decode()[-600:]}")
        log = Path(tmp) / "companion.out"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "companion", "serve", "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_ok(proc, f"http://{HOST}:{port}/ping", log)
            token = created.stdout.decode().strip().splitlines()[-1]
            yield Running(f"http://{HOST}:{port}", token, home)
        finally:
            stop(proc)


@contextlib.contextmanager
def direct_child(model: Path, flags: list[str]) -> Iterator[Running]:
    """The bundled llama.cpp launcher serving ``model`` with ``flags``, no API key."""
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-") as tmp:
        port, log = free_port(), Path(tmp) / "llama.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "companion.inference.launcher", "--model", str(model),
                 "--host", HOST, "--port", str(port), *flags],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**_clean_env(), PARENT_PID_ENV: str(os.getpid())})
        try:
            wait_ok(proc, f"http://{HOST}:{port}/health", log)
            yield Running(f"http://{HOST}:{port}", "", None)
        finally:
            stop(proc)
