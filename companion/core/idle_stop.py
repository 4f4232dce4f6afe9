"""``IdleStops``: stop a supervised child once it has been idle for the keep-alive.

Shared by the llama.cpp pool and the MCP stdio servers. One timer per child, started when its
last user leaves and counted from that last use; it fires only if nothing is in flight, the
child is still ready and nobody used it since. Keep-alive ``-1`` never stops, ``0`` stops right
after each use, ``N`` after N seconds; it is read at each scheduling, so a runtime edit applies
to the next use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class IdleChild(Protocol):
    in_flight: int
    last_used: float      # time.monotonic() of the last use's end

    def is_ready(self) -> bool: ...

    async def stop_if_idle(self) -> None: ...


class IdleStops:
    def __init__(self, keep_alive_secs: Callable[[], int], action: str) -> None:
        self._keep_alive_secs = keep_alive_secs
        self._action = action           # for the log line: "unloading model"
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def schedule(self, key: str, child: IdleChild, label: str) -> None:
        keep_alive = self._keep_alive_secs()
        if keep_alive < 0:
            return
        self.cancel(key)
        self._timers[key] = asyncio.get_running_loop().call_later(
            keep_alive, self._stop_if_idle, key, child, label, keep_alive)

    def cancel(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        for key in list(self._timers):
            self.cancel(key)

    def _stop_if_idle(self, key: str, child: IdleChild, label: str, keep_alive: int) -> None:
        self._timers.pop(key, None)
        idle_for = time.monotonic() - child.last_used
        if child.in_flight or not child.is_ready() or idle_for < keep_alive:
            return
        log.info("%s %s after %.1fs idle", self._action, label, idle_for)
        task = asyncio.create_task(child.stop_if_idle(), name=f"idle-stop-{label}")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)
