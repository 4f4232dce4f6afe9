"""``ModelQueue``: the requests for one model, served in arrival order.

At most ``running_limit()`` requests hold a turn at once (they are sent to the model's child);
the rest wait here, in the companion, up to ``waiting_limit()`` of them; one more is refused
with 429 and a ``Retry-After`` from the recent waits. A turn that ends goes straight to the
first waiter, so a newcomer never jumps the queue. A waiter gives up after ``within`` seconds
(503); a waiter whose task is cancelled (its client left, and aiohttp cancels the handler)
leaves the queue and never reaches the child. Both limits are read on every use, so runtime
setting changes apply at once (a raised limit lets waiters in on the next arrival or end).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from companion.core.errors import ServiceUnavailableError, TooManyRequestsError

# How many of the latest admitted requests the average wait is taken over.
RECENT_WAITS = 100
MAX_RETRY_AFTER_SECS = 60


@dataclass
class _Waiter:
    turn: asyncio.Future[None]
    since: float = field(default_factory=time.monotonic)


class ModelQueue:
    def __init__(self, alias: str, running_limit: Callable[[], int],
                 waiting_limit: Callable[[], int],
                 on_change: Callable[[ModelQueue], None] | None = None,
                 on_wait: Callable[[str, float], None] | None = None) -> None:
        self.alias = alias
        self.running = 0
        self._running_limit = running_limit
        self._waiting_limit = waiting_limit
        self._waiters: deque[_Waiter] = deque()
        self._recent: deque[float] = deque(maxlen=RECENT_WAITS)
        # Told when the number waiting changes, and of each admitted request's wait.
        self._on_change = on_change or (lambda queue: None)
        self._on_wait = on_wait or (lambda alias, secs: None)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def oldest_wait(self) -> float:
        """Seconds the first waiter has waited; 0 when nobody waits."""
        return time.monotonic() - self._waiters[0].since if self._waiters else 0.0

    def average_wait(self) -> float:
        """Mean wait of the latest admitted requests (those let in at once count 0)."""
        return sum(self._recent) / len(self._recent) if self._recent else 0.0

    @contextlib.asynccontextmanager
    async def turn(self, within: float) -> AsyncIterator[None]:
        """Hold a turn for the body of the block; wait for one at most ``within`` seconds."""
        await self._acquire(within)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, within: float) -> None:
        self._let_in()
        if not self._waiters and self._has_room():
            self.running += 1
            self._admitted(0.0)
            return
        if len(self._waiters) >= self._waiting_limit():
            raise TooManyRequestsError(
                f"The model '{self.alias}' has {len(self._waiters)} requests waiting; "
                "try again shortly.", code="model_busy", retry_after=self._retry_after())
        waiter = _Waiter(asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        self._on_change(self)
        try:
            async with asyncio.timeout(within):
                await waiter.turn
        except BaseException as exc:
            self._left(waiter)
            if isinstance(exc, TimeoutError):
                raise ServiceUnavailableError(
                    f"The model '{self.alias}' was busy: the request waited {within:g}s in "
                    "its queue.", code="model_queue_timeout",
                    retry_after=self._retry_after()) from None
            raise
        self._admitted(time.monotonic() - waiter.since)

    def _left(self, waiter: _Waiter) -> None:
        """A waiter timed out or was cancelled: out of the queue, or its turn passed on."""
        if waiter.turn.done() and not waiter.turn.cancelled():
            self._release()  # the turn came just as it gave up
            return
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        self._on_change(self)

    def _release(self) -> None:
        self.running -= 1
        self._let_in()

    def _let_in(self) -> None:
        """Hand free turns to the first waiters, in order."""
        changed = False
        while self._waiters and self._has_room():
            waiter = self._waiters.popleft()
            if waiter.turn.done():
                continue  # cancelled; its task removes nothing more
            self.running += 1
            waiter.turn.set_result(None)
            changed = True
        if changed:
            self._on_change(self)

    def _has_room(self) -> bool:
        return self.running < max(self._running_limit(), 1)

    def _admitted(self, waited: float) -> None:
        self._recent.append(waited)
        self._on_wait(self.alias, waited)

    def _retry_after(self) -> int:
        """Whole seconds: the recent average wait, at least 1."""
        return min(max(math.ceil(self.average_wait()), 1), MAX_RETRY_AFTER_SECS)
