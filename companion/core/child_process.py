"""How the companion starts, waits for and stops its own child processes.

Shared by the llama.cpp children (``inference/process.py``) and the MCP stdio bridges
(``mcp/stdio_process.py``): a free loopback port, a start into the child's private log file in
a new session (so the whole group can be signalled), the ``/health`` poll, the tail of the
current run's log for error messages, and stop as SIGTERM to the process group, a grace
period, then SIGKILL. The caller owns the state machine and turns ``ChildExited`` /
``ChildNotReady`` into its own domain error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from companion.core.home import private_dir, private_opener
from companion.core.upstream import ChildClient, ChildLost, ChildUnreachable

# Children are for the companion alone: never bound beyond loopback, whatever the flags say.
CHILD_HOST = "127.0.0.1"
STOP_GRACE_SECS = 5.0
_HEALTH_POLL_SECS = 0.05
_HEALTH_TIMEOUT_SECS = 2.0
# Each start writes a line beginning with this; the tail for errors reads only the lines after
# the last one, so it never shows an earlier run, nor the header's command line.
_RUN_MARK = "=== "


class ChildExited(Exception):
    """The child exited before it became healthy."""

    def __init__(self, returncode: int) -> None:
        super().__init__(f"exit code {returncode}")
        self.returncode = returncode


class ChildNotReady(Exception):
    """The child did not answer ``/health`` with 200 before the deadline."""


def free_port(host: str = CHILD_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def spawn(argv: Sequence[str], *, log_path: Path, header: str,
                env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """Start ``argv`` in a new session, stdout and stderr appended to its private log."""
    private_dir(log_path.parent)
    # A local append-only file: opening it does not block the loop noticeably.
    with open(log_path, "ab", opener=private_opener) as log_file:  # noqa: ASYNC230
        log_file.write(f"\n{_RUN_MARK}{time.strftime('%Y-%m-%d %H:%M:%S')} {header}\n".encode())
        log_file.flush()
        return await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=log_file,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True, env=dict(env))


async def wait_healthy(proc: asyncio.subprocess.Process, client: ChildClient, url: str, *,
                       auth: dict[str, str], within_secs: float) -> None:
    """Poll ``url`` until it answers 200; raises ``ChildExited`` or ``ChildNotReady``."""
    deadline = time.monotonic() + within_secs
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise ChildExited(proc.returncode)
        with contextlib.suppress(ChildUnreachable, ChildLost):
            if await client.status(url, auth=auth, limit_secs=_HEALTH_TIMEOUT_SECS) == 200:
                return
        await asyncio.sleep(_HEALTH_POLL_SECS)
    if proc.returncode is not None:
        raise ChildExited(proc.returncode)
    raise ChildNotReady(url)


def log_tail(path: Path, lines: int = 3) -> str:
    """The last non-empty lines the current run wrote to its log, on one line."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no log"
    marked, mark = "\n" + text, "\n" + _RUN_MARK
    if mark in marked:
        text = marked.rsplit(mark, 1)[1].partition("\n")[2]
    tail = [line for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail)[-600:] or "nothing in the log"


async def terminate(proc: asyncio.subprocess.Process, grace: float = STOP_GRACE_SECS) -> None:
    """SIGTERM to the child's process group, then SIGKILL after ``grace`` seconds."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
