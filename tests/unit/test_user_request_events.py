"""Users asking for a role are announced on the event bus to managers and admins only
(``user_access_request.created`` / ``.updated``), and a token's last use shows before the
batched write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from companion.auth import ApiTokenService
from companion.auth.identity import Identity, checked_box, open_identity
from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core import events
from companion.core.events import Event, EventBus, Subscription
from companion.core.settings import load_settings
from companion.storage import Database


@pytest.fixture
async def bus() -> EventBus:
    return EventBus()


@pytest.fixture
async def identity(db: Database, tokens: ApiTokenService, tmp_path: Path, bus: EventBus
                   ) -> AsyncIterator[Identity]:
    opened = await open_identity(load_settings(env={"BODHI_HOME": str(tmp_path)}), db, tokens,
                                 await checked_box(tmp_path, "", db), bus=bus)
    try:
        yield opened
    finally:
        await opened.close()


def _drain(sub: Subscription) -> list[Event]:
    got = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    return [e for e in got if e is not None]


async def test_an_audience_event_reaches_only_its_audience_and_its_user(bus: EventBus) -> None:
    async with bus.subscribe("m", audiences=frozenset({events.MANAGERS})) as manager, \
            bus.subscribe("u") as user, bus.subscribe("asker") as asker:
        bus.publish("created", {"n": 1}, audience=events.MANAGERS)
        bus.publish("updated", {"n": 2}, user_id="asker", audience=events.MANAGERS)
        bus.publish("for-all", {})
        assert [e.type for e in _drain(manager)] == ["created", "updated", "for-all"]
        assert [e.type for e in _drain(user)] == ["for-all"]
        assert [e.type for e in _drain(asker)] == ["updated", "for-all"]


def _session(user_id: str, role: Role | None) -> Principal:
    return Principal(PrincipalKind.SESSION, role=role, user_id=user_id, username=user_id)


async def test_a_request_and_its_decision_are_published(identity: Identity,
                                                        bus: EventBus) -> None:
    users = identity.users
    admin = await users.sign_in("ada", "ada@example.com", None)
    await users.sign_in("bob", "bob@example.com", None)
    async with bus.subscribe(admin.id, audiences=frozenset({events.MANAGERS})) as watching, \
            bus.subscribe("bob") as bob:
        asked = await users.request_access(_session("bob", None))
        again = await users.request_access(_session("bob", None))   # still pending: no news
        assert again.id == asked.id
        [created] = _drain(watching)
        assert created.type == events.USER_REQUEST_CREATED
        assert created.data == {"id": asked.id, "user_id": "bob",
                                "username": "bob", "status": "pending",
                                "role": None, "reviewer_id": None,
                                "created_at": asked.created_at, "updated_at": asked.updated_at}
        assert _drain(bob) == []                  # a user without a role sees no one's requests
        await users.approve(asked.id, Role.POWER_USER, _session("ada", Role.ADMIN))
        [updated] = _drain(watching)
        assert (updated.type, updated.data["status"], updated.data["role"]) == (
            events.USER_REQUEST_UPDATED, "approved", "resource_power_user")
        assert [e.type for e in _drain(bob)] == [events.USER_REQUEST_UPDATED]
    assert await users.current_role("bob") is Role.POWER_USER
    assert await users.current_role("owner") is Role.ADMIN
    assert await users.current_role("nobody") is None


async def test_a_use_shows_in_the_list_before_it_is_written(tokens: ApiTokenService) -> None:
    token, raw = await tokens.create("t")
    assert token.last_used_at is None
    await tokens.verify(raw)
    [listed], _ = await tokens.list_for_user(token.user_id, 10, 0)
    assert listed.last_used_at is not None
    await tokens.flush_last_used()
    stored = await tokens.get_own(token.id, token.user_id)
    assert stored.last_used_at == listed.last_used_at
