"""``LlamaPool``: the children by alias, request leases, and idle unloading.

A lease marks a request in flight on a ready child. Idle unload counts from the last
lease's end: keep-alive ``-1`` never unloads, ``0`` unloads right after each request, ``N``
after N seconds with nothing in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

from companion.inference.process import LaunchConfig, LlamaProcess, ProcessState
from companion.models import ResolvedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    """A request's hold on a ready child."""

    process: LlamaProcess

    @property
    def base_url(self) -> str:
        return self.process.base_url


class LlamaPool:
    def __init__(self, config: LaunchConfig, client: httpx.AsyncClient,
                 keep_alive_secs: Callable[[], int]) -> None:
        self._config = config
        self._client = client
        self._keep_alive_secs = keep_alive_secs
        self._processes: dict[str, LlamaProcess] = {}
        self._idle_timers: dict[str, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task[None]] = set()

    def processes(self) -> list[LlamaProcess]:
        return list(self._processes.values())

    def _process_for(self, model: ResolvedModel) -> LlamaProcess:
        alias = model.alias.alias
        process = self._processes.get(alias)
        flags = model.alias.launch_flags()
        if process is None or (process.state is ProcessState.STOPPED
                               and (process.model_path, process.flags) != (model.path, flags)):
            process = LlamaProcess(alias, model.path, flags, self._config, self._client)
            self._processes[alias] = process
        return process

    @contextlib.asynccontextmanager
    async def lease(self, model: ResolvedModel, *, embeddings: bool = False
                    ) -> AsyncIterator[Lease]:
        process = self._process_for(model)
        self._cancel_idle_timer(process.alias)
        await process.ensure_ready(embeddings=embeddings)
        process.begin_request()
        try:
            yield Lease(process)
        finally:
            process.end_request()
            if process.in_flight == 0:
                self._schedule_idle(process)

    def _cancel_idle_timer(self, alias: str) -> None:
        timer = self._idle_timers.pop(alias, None)
        if timer is not None:
            timer.cancel()

    def _schedule_idle(self, process: LlamaProcess) -> None:
        keep_alive = self._keep_alive_secs()
        if keep_alive < 0:
            return
        self._cancel_idle_timer(process.alias)
        loop = asyncio.get_running_loop()
        self._idle_timers[process.alias] = loop.call_later(
            keep_alive, self._unload_if_idle, process, keep_alive)

    def _unload_if_idle(self, process: LlamaProcess, keep_alive: int) -> None:
        self._idle_timers.pop(process.alias, None)
        idle_for = time.monotonic() - process.last_used
        if process.in_flight or process.state is not ProcessState.READY or idle_for < keep_alive:
            return
        log.info("unloading model %s after %.1fs idle", process.alias, idle_for)
        task = asyncio.create_task(process.stop_if_idle(), name=f"unload-{process.alias}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop_all(self) -> None:
        for alias in list(self._idle_timers):
            self._cancel_idle_timer(alias)
        await asyncio.gather(*(p.stop() for p in self._processes.values()),
                             return_exceptions=True)
