"""``LlamaProcess``: one supervised llama.cpp child serving one alias.

States: STOPPED → STARTING → READY → STOPPING → STOPPED. One lock serialises transitions,
so concurrent first requests start exactly one child. Readiness is ``GET /health`` == 200
within a deadline; a child that exits early fails the start with the tail of its log. A
watcher task notices a child that dies and moves to STOPPED so the next request starts a
new one. Stop is SIGTERM to the child's process group, a grace period, then SIGKILL.

A child listens on loopback, where every local user and every web page can reach it, so each
start gets a fresh random API key: llama-server then answers nothing but ``/health`` without
``Authorization: Bearer <key>``. The key travels in the child's environment (``LLAMA_API_KEY``,
read by llama-server and the bundled launcher alike), never on the command line, which other
users can read in ``/proc`` and which the log records. CORS is closed for every origin: only
the companion talks to a child.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from companion.core.errors import ModelLoadError
from companion.core.parent_watch import PARENT_PID_ENV
from companion.core.self_command import module_command
from companion.core.upstream import ChildClient
from companion.inference.launcher import API_KEY_ENV, CORS_ORIGINS_ENV

log = logging.getLogger(__name__)

_EXIT_CONFIRM_SECS = 2.0


class ProcessState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"


@dataclass(frozen=True)
class LaunchConfig:
    """How to start a child: the executable and flags that apply to every model."""

    llama_server: str          # path to a real llama-server, or "" for the bundled launcher
    default_flags: tuple[str, ...]
    log_dir: Path
    ready_timeout: float
    threads_http: int
    cores: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))

    def command(self) -> list[str]:
        if self.llama_server:
            return [*module_command("companion.core.exec_guard"), self.llama_server]
        return module_command("companion.inference.launcher")


def thread_flags(cores: int, children: int) -> list[str]:
    """llama.cpp's own defaults give a child a compute thread per core, busy-polling between
    steps, so two children on the same cores spin against each other and both crawl (a
    thread descheduled at a barrier stalls its siblings). Each child gets its share of the
    cores among the ``children`` running when it starts, and its idle compute threads sleep
    instead of polling. Flags given by the admin or the alias come later and win."""
    threads = str(max(1, cores // max(children, 1)))
    return ["--threads", threads, "--threads-batch", threads, "--poll", "0"]


def _log_name(alias: str) -> str:
    return "llama-" + re.sub(r"[^A-Za-z0-9._-]+", "_", alias) + ".log"


class LlamaProcess:
    def __init__(self, alias: str, model_path: Path, flags: list[str], config: LaunchConfig,
                 client: ChildClient,
                 on_change: Callable[[LlamaProcess], None] | None = None,
                 children: Callable[[], int] | None = None) -> None:
        self.alias = alias
        self.model_path = model_path
        self.flags = flags
        self._state = ProcessState.STOPPED
        # Told of every state change and every request begun (the Loaded view; the pool
        # tells a request's end, once it no longer counts it).
        self._on_change = on_change or (lambda process: None)
        # How many children share the cores with this one as it starts, itself included.
        self._children = children or (lambda: 1)
        self.embeddings = False
        self.base_url = ""
        self.pid: int | None = None
        self.in_flight = 0
        self.last_used = time.monotonic()
        self.loaded_at: float | None = None   # wall clock, when it last became READY
        self._config = config
        self._client = client
        self._api_key = ""
        self._tools: bool | None = None  # the running child's template can render tools
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._drained = asyncio.Event()
        self._drained.set()
        self.log_path = config.log_dir / _log_name(alias)

    @property
    def state(self) -> ProcessState:
        return self._state

    @state.setter
    def state(self, value: ProcessState) -> None:
        changed, self._state = value is not self._state, value
        if changed:
            self._on_change(self)

    @property
    def port(self) -> int | None:
        return int(self.base_url.rsplit(":", 1)[1]) if self.base_url else None

    @property
    def auth_headers(self) -> dict[str, str]:
        """What every request to the running child must carry."""
        return {"Authorization": f"Bearer {self._api_key}"}

    def last_used_at(self) -> float:
        """``last_used`` on the wall clock."""
        return time.time() - (time.monotonic() - self.last_used)

    def memory_bytes(self) -> int | None:
        """Resident size of the running child (Linux), or None."""
        if self.pid is None:
            return None
        try:
            with open(f"/proc/{self.pid}/statm", encoding="ascii") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None

    async def supports_tools(self) -> bool:
        """Whether the running child's chat template can render tools, from llama.cpp's
        ``/props`` (``chat_template_caps.supports_tools``); a template that cannot just
        drops them, and the model answers in text. A server that does not report its
        template's capabilities (an older llama-server) is trusted to handle them."""
        if self._tools is None:
            props = await self._client.get_json(self.base_url + "/props",
                                                auth=self.auth_headers, limit_secs=10)
            caps = props.get("chat_template_caps") if isinstance(props, dict) else None
            self._tools = bool(caps.get("supports_tools", True)) if isinstance(caps, dict) \
                else True
        return self._tools

    async def drained(self) -> None:
        """Return once no request is in flight."""
        await self._drained.wait()

    def is_ready(self) -> bool:
        return self.state is ProcessState.READY

    def is_serving(self, embeddings: bool) -> bool:
        return self.state is ProcessState.READY and (self.embeddings or not embeddings)

    def serving_now(self, embeddings: bool) -> bool:
        """Serving, and nobody is starting or stopping it: a request may use it at once."""
        return self.is_serving(embeddings) and not self._lock.locked()

    async def ensure_ready(self, *, embeddings: bool = False) -> None:
        """Return once a child is READY (with embeddings enabled when asked)."""
        if self.serving_now(embeddings):
            return
        async with self._lock:
            if self.is_serving(embeddings):
                return
            if self.state is ProcessState.READY:
                # Restart with embeddings enabled once the running requests are done.
                await self._drained.wait()
                await self._stop_locked()
            await self._start_locked(embeddings or self.embeddings)

    def begin_request(self) -> None:
        self.in_flight += 1
        self._drained.clear()
        self._on_change(self)

    def end_request(self) -> None:
        self.in_flight -= 1
        self.last_used = time.monotonic()
        if self.in_flight == 0:
            self._drained.set()

    async def confirm_exit(self) -> bool:
        """After a failed send: has the child died? If so, mark it STOPPED."""
        proc = self._proc
        if proc is not None:
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), _EXIT_CONFIRM_SECS)
            except TimeoutError:
                return False
        if self._proc is proc and self.state is ProcessState.READY:
            self.state = ProcessState.STOPPED
            self._proc = self.pid = None
        return True

    async def stop(self) -> None:
        async with self._lock:
            await self._stop_locked()

    async def stop_if_idle(self) -> None:
        """Stop unless a request took the child while this waited for the lock."""
        async with self._lock:
            if self.in_flight == 0:
                await self._stop_locked()

    def _argv(self, port: int, embeddings: bool) -> list[str]:
        """Defaults, then the admin's and the alias's flags, then the companion's own flags,
        last so that nothing before them can move the child off loopback or swap its model
        (llama-server and the launcher both keep the last value of a repeated flag)."""
        defaults = ["--jinja", *thread_flags(self._config.cores, self._children()),
                    *(["--pooling", "mean"] if embeddings else [])]
        own = ["--model", str(self.model_path), "--host", CHILD_HOST, "--port", str(port),
               "--alias", self.alias, "--threads-http", str(self._config.threads_http)]
        if embeddings:
            own.append("--embeddings")
        return [*self._config.command(), *defaults, *self._config.default_flags, *self.flags,
                *own]

    def _env(self) -> dict[str, str]:
        return {**os.environ, PARENT_PID_ENV: str(os.getpid()), API_KEY_ENV: self._api_key,
                CORS_ORIGINS_ENV: ""}

    async def _start_locked(self, embeddings: bool) -> None:
        self.state = ProcessState.STARTING
        started = time.monotonic()
        port = free_port(CHILD_HOST)
        argv = self._argv(port, embeddings)
        self._api_key = secrets.token_urlsafe(32)
        self._tools = None
        log.info("starting model %s: %s", self.alias, " ".join(argv))
        proc = await spawn(argv, log_path=self.log_path, header=f"starting {' '.join(argv)}",
                           env=self._env())
        self._proc, self.pid = proc, proc.pid
        self.base_url = f"http://{CHILD_HOST}:{port}"
        try:
            await self._wait_healthy(proc)
        except BaseException:
            await terminate(proc)
            self.state = ProcessState.STOPPED
            raise
        self.embeddings = embeddings
        self.loaded_at = time.time()
        self.state = ProcessState.READY
        self._watcher = asyncio.create_task(self._watch(proc), name=f"watch-{self.alias}")
        log.info("model %s ready (pid %s, %s) in %.2fs", self.alias, proc.pid, self.base_url,
                 time.monotonic() - started)

    async def _wait_healthy(self, proc: asyncio.subprocess.Process) -> None:
        try:
            await wait_healthy(proc, self._client, self.base_url + "/health",
                               auth=self.auth_headers, within_secs=self._config.ready_timeout)
        except ChildExited as exc:
            raise ModelLoadError(f"The model '{self.alias}' failed to start "
                                 f"(exit code {exc.returncode}): {log_tail(self.log_path)}"
                                 ) from None
        except ChildNotReady:
            raise ModelLoadError(f"The model '{self.alias}' did not become ready within "
                                 f"{self._config.ready_timeout:g}s; see {self.log_path}"
                                 ) from None

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if self._proc is proc and self.state is ProcessState.READY:
            log.warning("model %s (pid %s) exited unexpectedly with code %s; it will be "
                        "restarted on the next request", self.alias, proc.pid, code)
            self.state = ProcessState.STOPPED
            self._proc = self.pid = None

    async def _stop_locked(self) -> None:
        proc = self._proc
        if proc is None:
            self.state = ProcessState.STOPPED
            return
        self.state = ProcessState.STOPPING
        log.info("stopping model %s (pid %s)", self.alias, proc.pid)
        await terminate(proc)
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        self._proc = self.pid = None
        self.state = ProcessState.STOPPED
