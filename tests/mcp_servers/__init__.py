"""Real MCP servers, built with the official ``mcp`` SDK, that tests start on loopback.

Each server is a module run as ``python -m tests.mcp_servers.<name> ...``; ``serving`` starts
one on a free port, waits until it listens and stops it (by PID) afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def serving(module: str, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``tests.mcp_servers.<module> --port P ARGS``; yields ``http://127.0.0.1:P``."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", f"tests.mcp_servers.{module}", "--port", str(port), *args],
        cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_until(lambda: _listening(port) or proc.poll() is not None, timeout=20) \
                or proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"MCP test server {module} did not start: {err[-2000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
