"""Events with an audience reach only the subscribers whose role is in it: the socket joins a
caller to its role's audience and every lower role's (``routes/events.py:_audiences``)."""

from __future__ import annotations

from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core import events
from companion.core.events import EventBus
from companion.routes.events import _audiences


def session(role: Role) -> Principal:
    return Principal(PrincipalKind.SESSION, role=role, user_id=f"u-{role.value}")


async def test_an_audience_event_reaches_power_users_and_above_only() -> None:
    bus = EventBus()
    async with bus.subscribe("u1", audiences=_audiences(session(Role.USER))) as user, \
            bus.subscribe("u2", audiences=_audiences(session(Role.POWER_USER))) as power, \
            bus.subscribe("u3", audiences=_audiences(session(Role.ADMIN))) as admin, \
            bus.subscribe("u4") as unspecified:
        bus.publish(events.DOWNLOAD_UPDATED, {"id": "j"}, audience=events.POWER_USERS)
        bus.publish(events.USER_REQUEST_CREATED, {"id": 1}, audience=events.MANAGERS)
        bus.publish(events.MODELS_CHANGED, {"models": []})
        heard = {name: [sub.queue.get_nowait().type for _ in range(sub.queue.qsize())]
                 for name, sub in (("user", user), ("power", power), ("admin", admin),
                                   ("unspecified", unspecified))}
    assert heard == {"user": ["models.changed"],
                     "power": ["download.updated", "models.changed"],
                     "admin": ["download.updated", "user_access_request.created",
                               "models.changed"],
                     "unspecified": ["models.changed"]}  # no audiences: fails closed


def test_the_audiences_are_role_names() -> None:
    assert {events.MANAGERS, events.POWER_USERS} <= {role.value for role in Role}
    assert _audiences(Principal(PrincipalKind.ANONYMOUS)) == frozenset()
    assert _audiences(session(Role.MANAGER)) == {
        Role.USER.value, Role.POWER_USER.value, Role.MANAGER.value}
