"""The in-process event bus: services publish, the events WebSocket relays.

Events are ``{"type": kind, "data": {...}}``. ``user_id`` (when given) says whose event it is;
subscribers see their own user's events and events that belong to nobody (server state,
model changes). ``audience`` (when given) narrows an event to the subscribers whose ``hears``
accepts it: the events socket passes a role name and lets through callers with that role or
above, so only power users hear of downloads and loaded models, as only they may list them.
Publishing never blocks: a subscriber that falls more than ``QUEUE_SIZE``
events behind is dropped and told so by its queue ending with ``None``, because a slow
browser tab must not hold up the service that published.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 256

# The kinds the events WebSocket carries (docs/apps.md lists their data).
HELLO = "hello"
ACCESS_REQUEST_CREATED = "access_request.created"
ACCESS_REQUEST_UPDATED = "access_request.updated"
GRANT_CREATED = "grant.created"
GRANT_REVOKED = "grant.revoked"
DOWNLOAD_UPDATED = "download.updated"
MODELS_CHANGED = "models.changed"
MODELS_LOADED = "models.loaded"
SERVER_STATE = "server.state"


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any]
    user_id: str | None = None
    audience: str | None = None

    def message(self) -> dict[str, Any]:
        return {"type": self.type, "data": self.data}


@dataclass(eq=False)
class Subscription:
    user_id: str | None
    see_all: bool
    # Whether this subscriber is in an event's audience; by default in none (fails closed).
    hears: Callable[[str], bool] = lambda audience: False
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE + 1))

    def wants(self, event: Event) -> bool:
        if event.audience is not None and not self.hears(event.audience):
            return False
        return self.see_all or event.user_id is None or event.user_id == self.user_id


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def publish(self, kind: str, data: dict[str, Any], *, user_id: str | None = None,
                audience: str | None = None) -> None:
        event = Event(kind, data, user_id, audience)
        for sub in list(self._subscribers):
            if not sub.wants(event):
                continue
            if sub.queue.qsize() >= QUEUE_SIZE:
                self._subscribers.discard(sub)
                sub.queue.put_nowait(None)
            else:
                sub.queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: str | None, *, see_all: bool = False,
                        hears: Callable[[str], bool] | None = None
                        ) -> AsyncIterator[Subscription]:
        sub = Subscription(user_id, see_all)
        if hears is not None:
            sub.hears = hears
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def close_all(self) -> None:
        """End every subscription (server shutdown)."""
        for sub in list(self._subscribers):
            sub.queue.put_nowait(None)
        self._subscribers.clear()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
