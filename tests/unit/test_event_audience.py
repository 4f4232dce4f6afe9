"""Events with an audience reach only the subscribers whose role is in it."""

from __future__ import annotations

from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core.events import EventBus
from companion.routes.events import role_audience


def session(role: Role) -> Principal:
    return Principal(PrincipalKind.SESSION, role=role, user_id=f"u-{role.value}")


async def test_an_audience_event_reaches_power_users_and_above_only() -> None:
    bus = EventBus()
    async with bus.subscribe("u1", hears=role_audience(session(Role.USER))) as user, \
            bus.subscribe("u2", hears=role_audience(session(Role.POWER_USER))) as power, \
            bus.subscribe("u3", hears=role_audience(session(Role.ADMIN))) as admin, \
            bus.subscribe("u4") as unspecified:
        bus.publish("download.updated", {"id": "j"}, audience=Role.POWER_USER.value)
        bus.publish("models.changed", {"models": []})
        heard = {name: [sub.queue.get_nowait().type for _ in range(sub.queue.qsize())]
                 for name, sub in (("user", user), ("power", power), ("admin", admin),
                                   ("unspecified", unspecified))}
    assert heard == {"user": ["models.changed"],
                     "power": ["download.updated", "models.changed"],
                     "admin": ["download.updated", "models.changed"],
                     "unspecified": ["models.changed"]}  # no `hears`: fails closed


def test_an_unknown_audience_reaches_nobody() -> None:
    assert not role_audience(session(Role.ADMIN))("someone_else")
    assert not role_audience(Principal(PrincipalKind.ANONYMOUS))(Role.USER.value)
