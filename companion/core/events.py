"""The in-process event bus: services publish, the events WebSocket relays.

Events are ``{"type": kind, "data": {...}}``. ``user_id`` (when given) says whose event it is;
subscribers see their own user's events and events that belong to nobody (server state,
model changes). An event with an ``audience`` (a role name: ``MANAGERS``, ``POWER_USERS``)
goes only to subscriptions in that audience (and to its ``user_id``, when it has one): the
events socket decides, from the caller's role, which audiences a subscription joins (its role
and every lower one), and checks the role again as each such event is sent.

Publishing never blocks: a subscriber that falls more than ``QUEUE_SIZE`` events behind is
dropped and told so by its queue ending with ``None``, because a slow browser tab must not
hold up the service that published.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 256

# The kinds the events WebSocket carries (docs/apps.md lists their data).
HELLO = "hello"
ACCESS_REQUEST_CREATED = "access_request.created"
ACCESS_REQUEST_UPDATED = "access_request.updated"
GRANT_CREATED = "grant.created"
GRANT_REVOKED = "grant.revoked"
GRANT_USED = "grant.used"
DOWNLOAD_UPDATED = "download.updated"
MODELS_CHANGED = "models.changed"
MODELS_LOADED = "models.loaded"
MCP_CHANGED = "mcp.changed"
SERVER_STATE = "server.state"
# A user asked for a role (OIDC mode), and a request was decided: for managers and admins.
USER_REQUEST_CREATED = "user_access_request.created"
USER_REQUEST_UPDATED = "user_access_request.updated"

# Audiences: who, beyond an event's own user, receives it: callers with this role or a higher
# one (the values are the role names of auth/principal.py:Role, which core cannot import).
MANAGERS = "resource_manager"
POWER_USERS = "resource_power_user"    # downloads and loaded models: their routes need it


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
    audiences: frozenset[str] = frozenset()
    queue: asyncio.Queue[Event | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE + 1))

    def wants(self, event: Event) -> bool:
        if self.see_all or (event.user_id is not None and event.user_id == self.user_id):
            return True
        if event.audience is not None:
            return event.audience in self.audiences
        return event.user_id is None


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
                        audiences: frozenset[str] = frozenset()
                        ) -> AsyncIterator[Subscription]:
        sub = Subscription(user_id, see_all, audiences)
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
