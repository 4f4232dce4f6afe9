"""``LlamaPool``: the children by alias, request leases, eviction and idle unloading.

A lease marks a request in flight on a ready child. Several children may run at once, up to
``max_loaded`` and an optional memory budget. When a new alias must load and there is no
room, the least recently used child (idle ones first) is evicted: it takes no new requests,
its in-flight requests finish (a stream is never cut), then it stops; requests for it that
arrived meanwhile wait and load it again. Loads are serialised, so two loads never evict the
same child or overshoot the limits. Idle unload counts from the last lease's end: keep-alive
``-1`` never unloads, ``0`` unloads right after each request, ``N`` after N seconds with
nothing in flight. Every wait is bounded by ``wait_secs``.

Each alias has a ``ModelQueue``: a request first takes a turn (at most
``max_requests_per_model`` at once, capped at the connections the companion keeps to a child),
waiting in arrival order behind the others (at most ``queue_per_model`` of them; more get 429),
then a ready child. The turn covers loading, so requests that wait for a load count as queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from companion.core.errors import ServiceUnavailableError
from companion.core.idle_stop import IdleStops
from companion.core.upstream import KEEPALIVE_CONNECTIONS, ChildClient
from companion.inference.model_queue import ModelQueue
from companion.inference.process import LaunchConfig, LlamaProcess, ProcessState
from companion.models import ResolvedModel

log = logging.getLogger(__name__)

RETRY_AFTER_SECS = 2
# A GGUF needs about its own size in memory plus the context; a rough first guess until the
# child runs and its resident size can be measured.
_LOAD_OVERHEAD = 1.2


@dataclass(frozen=True)
class Lease:
    """A request's hold on a ready child."""

    process: LlamaProcess

    @property
    def base_url(self) -> str:
        return self.process.base_url


@dataclass(frozen=True)
class PoolLimits:
    """Read on every use, so runtime setting changes apply to the next load."""

    max_loaded: Callable[[], int] = lambda: 2
    memory_budget_bytes: Callable[[], int] = lambda: 0        # 0: no budget
    max_requests_per_model: Callable[[], int] = lambda: 0     # 0: as many as connections
    queue_per_model: Callable[[], int] = lambda: 512          # waiting; more get 429
    wait_secs: float = 300.0

    def running_limit(self) -> int:
        """Requests sent to one child at once. Never more than the connections the companion
        keeps to a child (each holds one of its HTTP threads): past that they would wait
        unseen in the connection pool instead of in the queue."""
        limit = self.max_requests_per_model()
        return min(limit, KEEPALIVE_CONNECTIONS) if limit > 0 else KEEPALIVE_CONNECTIONS


class LlamaPool:
    def __init__(self, config: LaunchConfig, client: ChildClient,
                 keep_alive_secs: Callable[[], int], limits: PoolLimits | None = None,
                 on_load: Callable[[str, float], None] | None = None,
                 on_change: Callable[[LlamaProcess], None] | None = None,
                 on_queue: Callable[[str, int], None] | None = None,
                 on_wait: Callable[[str, float], None] | None = None) -> None:
        self._config = config
        self._client = client
        self._keep_alive_secs = keep_alive_secs
        self._limits = limits or PoolLimits()
        self._on_load = on_load or (lambda alias, secs: None)
        # A child started, stopped, began unloading or took or finished a request.
        self._on_change = on_change or (lambda process: None)
        self._processes: dict[str, LlamaProcess] = {}
        self._idle = IdleStops(keep_alive_secs, "unloading model")
        self._evicting: dict[str, asyncio.Event] = {}
        self._requests: dict[str, int] = defaultdict(int)
        self._queues: dict[str, ModelQueue] = {}
        # The number waiting in an alias's queue changed; each admitted request's wait.
        self._on_queue = on_queue or (lambda alias, waiting: None)
        self._on_wait = on_wait
        self._room = asyncio.Lock()

    def keep_alive_secs(self) -> int:
        return self._keep_alive_secs()

    def processes(self) -> list[LlamaProcess]:
        return list(self._processes.values())

    def loaded(self) -> list[LlamaProcess]:
        return [p for p in self._processes.values() if p.state is not ProcessState.STOPPED]

    def is_evicting(self, alias: str) -> bool:
        return alias in self._evicting

    def queued(self, alias: str) -> int:
        """Requests for the alias not yet running on its child."""
        process = self._processes.get(alias)
        return max(self._requests.get(alias, 0) - (process.in_flight if process else 0), 0)

    def queue(self, alias: str) -> ModelQueue:
        """The alias's queue (made on first use; a few counters, kept while the pool runs)."""
        queue = self._queues.get(alias)
        if queue is None:
            queue = self._queues[alias] = ModelQueue(
                alias, self._limits.running_limit, self._limits.queue_per_model,
                on_change=self._queue_changed, on_wait=self._on_wait)
        return queue

    def _queue_changed(self, queue: ModelQueue) -> None:
        self._on_queue(queue.alias, queue.waiting)
        self._changed(queue.alias)

    def _changed(self, alias: str) -> None:
        process = self._processes.get(alias)
        if process is not None and process.state is not ProcessState.STOPPED:
            self._on_change(process)

    def is_using(self, path: Path) -> bool:
        """Is a running child serving this model file?"""
        return any(p.model_path.resolve() == path.resolve() for p in self.loaded())

    def _children_sharing(self) -> int:
        """How many children a starting one shares the cores with, itself included: those
        running now. A child alone gets every core (a share of the models that *may* be loaded
        halved a lone model's speed on 2 cores); one that joins takes its share, and the
        earlier ones keep their threads, a milder crowding than equal full shares (on 2 cores,
        two models: 2 + 1 threads 69 tok/s, 1 + 1 119, 2 + 2 7; bench/two_models.py)."""
        return max(1, len(self.loaded()))

    def _process_for(self, model: ResolvedModel) -> LlamaProcess:
        alias = model.alias.alias
        process = self._processes.get(alias)
        flags = model.alias.launch_flags()
        if process is None or (process.state is ProcessState.STOPPED
                               and (process.model_path, process.flags) != (model.path, flags)):
            process = LlamaProcess(alias, model.path, flags, self._config, self._client,
                                   on_change=self._on_change,
                                   children=self._children_sharing)
            self._processes[alias] = process
        return process

    @contextlib.asynccontextmanager
    async def lease(self, model: ResolvedModel, *, embeddings: bool = False
                    ) -> AsyncIterator[Lease]:
        """A turn in the alias's queue, then a ready child; both waits share ``wait_secs``."""
        alias = model.alias.alias
        deadline = asyncio.get_running_loop().time() + self._limits.wait_secs
        self._requests[alias] += 1
        try:
            async with self.queue(alias).turn(self._limits.wait_secs):
                process = await self._ready(model, embeddings, deadline)
                process.begin_request()
                try:
                    yield Lease(process)
                finally:
                    process.end_request()
                    if process.in_flight == 0:
                        self._idle.schedule(alias, process, alias)
        finally:
            self._requests[alias] -= 1
            self._changed(alias)

    async def _ready(self, model: ResolvedModel, embeddings: bool, deadline: float
                     ) -> LlamaProcess:
        """A READY child for the model, loading it (and making room) when needed, by
        ``deadline`` (the loop's clock)."""
        alias = model.alias.alias
        process = self._processes.get(alias)
        if (process is not None and process.serving_now(embeddings)
                and alias not in self._evicting):
            self._idle.cancel(alias)
            return process      # the common case, without a timeout to set up
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    if alias in self._evicting:
                        await self._evicting[alias].wait()
                        continue
                    process = self._process_for(model)
                    self._idle.cancel(alias)
                    if process.state is ProcessState.STOPPED:
                        await self._load(process, embeddings)
                    else:
                        await process.ensure_ready(embeddings=embeddings)
                    if process.is_serving(embeddings) and alias not in self._evicting:
                        return process
        except TimeoutError:
            raise ServiceUnavailableError(
                f"The model '{alias}' did not become available within "
                f"{self._limits.wait_secs:g}s.", code="model_unavailable",
                retry_after=RETRY_AFTER_SECS) from None

    async def _load(self, process: LlamaProcess, embeddings: bool) -> None:
        async with self._room:
            if process.state is not ProcessState.STOPPED or process.alias in self._evicting:
                return  # someone else loaded (or is evicting) it meanwhile; look again
            await self._make_room(process)
            started = time.monotonic()
            await process.ensure_ready(embeddings=embeddings)
            self._on_load(process.alias, time.monotonic() - started)

    async def _make_room(self, incoming: LlamaProcess) -> None:
        while True:
            others = [p for p in self.loaded() if p is not incoming]
            if not others or not self._over_limits(incoming, others):
                return
            # Idle children first, then the one used least recently.
            victim = min(others, key=lambda p: (p.in_flight > 0, p.last_used))
            log.info("evicting model %s to make room for %s", victim.alias, incoming.alias)
            await self.unload(victim.alias)

    def _over_limits(self, incoming: LlamaProcess, others: list[LlamaProcess]) -> bool:
        if len(others) >= self._limits.max_loaded():
            return True
        budget = self._limits.memory_budget_bytes()
        if budget <= 0:
            return False
        needed = incoming.model_path.stat().st_size * _LOAD_OVERHEAD
        used = sum(p.memory_bytes() or p.model_path.stat().st_size * _LOAD_OVERHEAD
                   for p in others)
        return used + needed > budget

    async def unload(self, alias: str) -> bool:
        """Stop the alias's child once its in-flight requests are done; False if not loaded."""
        process = self._processes.get(alias)
        if process is None or process.state is ProcessState.STOPPED:
            return False
        if alias in self._evicting:
            await self._evicting[alias].wait()
            return True
        done = self._evicting[alias] = asyncio.Event()
        self._idle.cancel(alias)
        self._on_change(process)
        try:
            await process.drained()
            await process.stop()
        finally:
            del self._evicting[alias]
            done.set()
            self._on_change(process)  # now "stopped", no longer "unloading"
        return True

    async def stop_all(self) -> None:
        self._idle.cancel_all()
        await asyncio.gather(*(p.stop() for p in self._processes.values()),
                             return_exceptions=True)
