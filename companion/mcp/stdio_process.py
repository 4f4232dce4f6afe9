"""Local stdio MCP servers, run and supervised like the llama.cpp children.

Each registered stdio server gets one ``StdioProcess``: a bridge child
(``python -m companion.mcp.stdio_bridge``) that runs the server and serves it as Streamable
HTTP on a loopback port, behind a fresh random key per start. ``StdioServers.lease`` hands the
MCP proxy an ``McpEndpoint`` (URL plus key header) for it, just as it would get one for a
remote server.

States: STOPPED → STARTING → READY → STOPPING → STOPPED, one lock per process, so concurrent
first leases start one bridge. Ready means ``GET /health`` answers 200 (the bridge opens its
port only once the stdio session is initialised); a bridge that exits first fails the start
with ``McpServerError`` and the tail of its log. A watcher notices a bridge that exits (the
bridge exits when its stdio server dies) and marks it STOPPED, so the next lease starts a new
one. Idle stop counts from the last lease's end with nothing in flight: keep-alive ``-1``
never, ``0`` right after each lease, ``N`` after N seconds. Stop is SIGTERM to the bridge's
process group, a grace period, then SIGKILL; the bridge stops its stdio server on SIGTERM,
and both die with their parent (``core/parent_watch.py``, ``core/exec_guard.py``).

This module never imports the bridge: it is another process, with its own dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from pathlib import Path

from companion.core.child_process import (
    CHILD_HOST,
    ChildExited,
    ChildNotReady,
    free_port,
    log_tail,
    spawn,
    terminate,
    wait_healthy,
)
from companion.core.errors import McpServerError
from companion.core.idle_stop import IdleStops
from companion.core.parent_watch import PARENT_PID_ENV
from companion.core.self_command import module_command
from companion.core.upstream import ChildClient
from companion.mcp.endpoint import McpEndpoint
from companion.mcp.stdio_spec import KEY_ENV, SPEC_ENV, StdioSpec

__all__ = ["McpEndpoint", "StdioProcess", "StdioServers", "StdioSpec", "StdioState"]

log = logging.getLogger(__name__)

READY_TIMEOUT_SECS = 60.0   # npx/uvx may fetch the server on its first start
# How long a bridge whose stdio server is gone takes to exit (uvicorn's graceful stop).
EXIT_CONFIRM_SECS = 5.0


class StdioState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"


def log_name(slug: str) -> str:
    return "mcp-" + re.sub(r"[^A-Za-z0-9._-]+", "_", slug) + ".log"


class StdioProcess:
    """One stdio server's bridge child, and its state."""

    def __init__(self, server_id: str, slug: str, spec: StdioSpec, *, log_dir: Path,
                 client: ChildClient, ready_timeout: float) -> None:
        self.server_id, self.slug, self.spec = server_id, slug, spec
        self.state = StdioState.STOPPED
        self.pid: int | None = None
        self.url = ""
        self.in_flight = 0
        self.last_used = time.monotonic()
        self.log_path = log_dir / log_name(slug)
        self._client = client
        self._ready_timeout = ready_timeout
        self._key = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def endpoint(self) -> McpEndpoint:
        return McpEndpoint(self.url + "/mcp", {"Authorization": f"Bearer {self._key}"})

    async def ensure_ready(self) -> None:
        """Return once the bridge is READY, starting it when needed."""
        if self.state is StdioState.READY and not self._lock.locked():
            return
        async with self._lock:
            if self._closed:
                # Stopped for good (edited, disabled, deleted) while this waited for the lock.
                raise McpServerError(f"The MCP server '{self.slug}' was stopped.")
            if self.state is not StdioState.READY:
                await self._start_locked()

    def is_ready(self) -> bool:
        return self.state is StdioState.READY

    def begin_use(self) -> None:
        self.in_flight += 1

    def end_use(self) -> None:
        self.in_flight -= 1
        self.last_used = time.monotonic()

    async def confirm_exit(self) -> bool:
        """After a failed send: has the bridge exited? If so, mark it STOPPED."""
        proc = self._proc
        if proc is not None:
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), EXIT_CONFIRM_SECS)
            except TimeoutError:
                return False
        if self._proc is proc and self.state is StdioState.READY:
            self.state = StdioState.STOPPED
            self._proc = self.pid = None
        return True

    async def stop(self) -> None:
        async with self._lock:
            await self._stop_locked()

    async def close(self) -> None:
        """Stop, and refuse to start again."""
        self._closed = True
        await self.stop()

    async def stop_if_idle(self) -> None:
        """Stop unless a lease took the bridge while this waited for the lock."""
        async with self._lock:
            if self.in_flight == 0:
                await self._stop_locked()

    def _env(self) -> dict[str, str]:
        return {**os.environ, PARENT_PID_ENV: str(os.getpid()),
                SPEC_ENV: self.spec.to_json(), KEY_ENV: self._key}

    async def _start_locked(self) -> None:
        self.state = StdioState.STARTING
        started = time.monotonic()
        port = free_port(CHILD_HOST)
        self._key = secrets.token_urlsafe(32)
        argv = [*module_command("companion.mcp.stdio_bridge"), "--port", str(port),
                "--log", str(self.log_path)]
        # The command and its arguments, never the environment: env values may be secrets.
        header = f"starting MCP server {self.slug}: {self.spec.command} {' '.join(self.spec.args)}"
        log.info("starting MCP server %s (%s)", self.slug, self.spec.command)
        proc = await spawn(argv, log_path=self.log_path, header=header, env=self._env())
        self._proc, self.pid, self.url = proc, proc.pid, f"http://{CHILD_HOST}:{port}"
        try:
            await self._wait_healthy(proc)
        except BaseException:
            await terminate(proc)
            self._proc = self.pid = None
            self.state = StdioState.STOPPED
            raise
        self.state = StdioState.READY
        self._watcher = asyncio.create_task(self._watch(proc), name=f"watch-mcp-{self.slug}")
        log.info("MCP server %s ready (pid %s, %s) in %.2fs", self.slug, proc.pid, self.url,
                 time.monotonic() - started)

    async def _wait_healthy(self, proc: asyncio.subprocess.Process) -> None:
        try:
            await wait_healthy(proc, self._client, self.url + "/health", auth={},
                               within_secs=self._ready_timeout)
        except ChildExited as exc:
            raise McpServerError(f"The MCP server '{self.slug}' failed to start (exit code "
                                 f"{exc.returncode}): {log_tail(self.log_path)}") from None
        except ChildNotReady:
            raise McpServerError(f"The MCP server '{self.slug}' did not become ready within "
                                 f"{self._ready_timeout:g}s: {log_tail(self.log_path)}"
                                 ) from None

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if self._proc is proc and self.state is StdioState.READY:
            log.warning("MCP server %s (bridge pid %s) exited with code %s; it will be "
                        "restarted on next use", self.slug, proc.pid, code)
            self.state = StdioState.STOPPED
            self._proc = self.pid = None

    async def _stop_locked(self) -> None:
        proc = self._proc
        if proc is None:
            self.state = StdioState.STOPPED
            return
        self.state = StdioState.STOPPING
        log.info("stopping MCP server %s (pid %s)", self.slug, proc.pid)
        await terminate(proc)
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        self._proc = self.pid = None
        self.state = StdioState.STOPPED


class StdioServers:
    """The stdio MCP servers by id: leases, restarts and idle stops."""

    def __init__(self, log_dir: Path, client: ChildClient,
                 keep_alive_secs: Callable[[], int] | int, *,
                 ready_timeout: float = READY_TIMEOUT_SECS) -> None:
        self._log_dir = log_dir
        self._client = client
        self._keep_alive = (keep_alive_secs if callable(keep_alive_secs)
                            else lambda: keep_alive_secs)
        self._ready_timeout = ready_timeout
        self._processes: dict[str, StdioProcess] = {}
        self._idle = IdleStops(self._keep_alive, "stopping MCP server")

    def running(self) -> list[StdioProcess]:
        return [p for p in self._processes.values() if p.state is not StdioState.STOPPED]

    @contextlib.asynccontextmanager
    async def lease(self, server_id: str, slug: str, spec: StdioSpec
                    ) -> AsyncIterator[McpEndpoint]:
        """The server's endpoint, started if needed, held in use while the block runs."""
        process = await self._process_for(server_id, slug, spec)
        self._idle.cancel(server_id)
        process.begin_use()
        try:
            await process.ensure_ready()
            yield process.endpoint
        finally:
            process.end_use()
            if process.in_flight == 0 and process.is_ready():
                self._idle.schedule(server_id, process, process.slug)

    async def _process_for(self, server_id: str, slug: str, spec: StdioSpec) -> StdioProcess:
        process = self._processes.get(server_id)
        if process is not None and (process.slug, process.spec) != (slug, spec):
            # Edited: the running bridge serves the old command (or env); its users lose it.
            log.info("MCP server %s changed; restarting it", slug)
            await self.stop(server_id)
            process = self._processes.get(server_id)   # another lease may have made one
        if process is None:
            process = StdioProcess(server_id, slug, spec, log_dir=self._log_dir,
                                   client=self._client, ready_timeout=self._ready_timeout)
            self._processes[server_id] = process
        return process

    async def confirm_exit(self, server_id: str) -> bool:
        """Has the server's bridge exited (so the next lease starts a new one)?"""
        process = self._processes.get(server_id)
        return process is None or await process.confirm_exit()

    async def stop(self, server_id: str) -> bool:
        """Stop the server now (edited, disabled or deleted); False if it was not known."""
        self._idle.cancel(server_id)
        process = self._processes.pop(server_id, None)
        if process is None:
            return False
        await process.close()
        return True

    async def stop_all(self) -> None:
        self._idle.cancel_all()
        processes, self._processes = list(self._processes.values()), {}
        await asyncio.gather(*(p.close() for p in processes), return_exceptions=True)
