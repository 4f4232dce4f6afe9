"""``GET /bodhi/v1/events``: the event bus relayed over a WebSocket.

Browsers cannot set headers on a WebSocket, so the socket authenticates in-band: unless the
upgrade already carried a browser session, the first message must be
``{"type": "auth", "token": "bodhiext_..."}`` within ``AUTH_TIMEOUT_SECS``; anything else
closes the socket with 4401. Then the server sends ``hello`` and every event of that user.
A caller with the manager role or above also joins the ``MANAGERS`` audience (users asking
for a role); its role is looked up again before each such event, so a caller demoted while
the socket is open stops receiving them.

A session cookie counts only when the upgrade comes from our own origin: browsers send
``Origin`` with every WebSocket handshake, and a page on another port of localhost is the same
*site*, so its handshake would carry the SameSite cookie (cross-site WebSocket hijacking).
Client messages are capped at ``MAX_CLIENT_MESSAGE_BYTES`` (the only one expected is ``auth``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core import events, json_limits
from companion.core.errors import AuthenticationError
from companion.core.events import Event, Subscription
from companion.middleware.access import optional_auth
from companion.middleware.auth import PRINCIPAL
from companion.middleware.docs import documented
from companion.middleware.hosts import own_origin
from companion.routes.keys import APPS, IDENTITY, SERVER_INFO

AUTH_TIMEOUT_SECS = 5.0
CLOSE_UNAUTHORIZED = 4401
MAX_CLIENT_MESSAGE_BYTES = 16 * 1024


class OpenSockets:
    """The event sockets open now, closed at shutdown so it need not wait for them."""

    def __init__(self) -> None:
        self.all: set[web.WebSocketResponse] = set()


SOCKETS = web.AppKey("event_sockets", OpenSockets)


async def _in_band_auth(request: web.Request, ws: web.WebSocketResponse) -> Principal | None:
    try:
        message = await ws.receive(timeout=AUTH_TIMEOUT_SECS)
    except TimeoutError:
        return None
    if message.type is not WSMsgType.TEXT:
        return None
    try:
        body = json_limits.loads(message.data)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != "auth":
        return None
    try:
        return await request.app[APPS].extension.verify(str(body.get("token", "")))
    except AuthenticationError:
        return None


Admit = Callable[[Event], Awaitable[bool]]


async def _relay(ws: web.WebSocketResponse, sub: Subscription, admit: Admit) -> None:
    """Forward events until the bus ends the subscription or the client goes away."""
    reader = asyncio.ensure_future(_drain(ws))
    try:
        while True:
            getter = asyncio.ensure_future(sub.queue.get())
            await asyncio.wait({reader, getter}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                return
            event = getter.result()
            if event is None or ws.closed:
                return
            if event.audience is None or await admit(event):
                await ws.send_json(event.message())
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) client messages so pings are answered and a close is noticed."""
    async for _ in ws:
        pass


def _session_of_our_origin(request: web.Request) -> Principal | None:
    principal = request[PRINCIPAL]
    origin = request.headers.get("Origin")
    if principal.kind is not PrincipalKind.SESSION or (
            origin is not None and origin != own_origin(request)):
        return None
    return principal


def _audiences(principal: Principal) -> frozenset[str]:
    """The audiences a caller joins: its role's name and every lower role's."""
    return frozenset(role.value for role in Role if principal.has_role(role))


def _admission(request: web.Request, principal: Principal) -> Admit:
    """Whether the caller is still in an event's audience: a session's role is read again
    (it may have changed since the socket opened); a token's role is fixed."""
    async def admit(event: Event) -> bool:
        if event.user_id is not None and event.user_id == principal.user_id:
            return True
        if principal.kind is not PrincipalKind.SESSION or principal.user_id is None:
            return event.audience in _audiences(principal)
        role = await request.app[IDENTITY].users.current_role(principal.user_id)
        return (role is not None and event.audience is not None
                and role.at_least(Role(event.audience)))
    return admit


@optional_auth
@documented("WebSocket of change events (models, downloads, requests)", media=None, status=101,
            errors=(400,))
async def events_socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_CLIENT_MESSAGE_BYTES)
    await ws.prepare(request)
    principal = _session_of_our_origin(request)
    if principal is None:
        principal = await _in_band_auth(request, ws)
    if principal is None:
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"authentication required")
        return ws
    sockets = request.app[SOCKETS].all
    sockets.add(ws)
    try:
        async with request.app[APPS].bus.subscribe(
                principal.user_id, audiences=_audiences(principal)) as sub:
            await ws.send_json({"type": events.HELLO, "data": {
                "version": request.app[SERVER_INFO].version, "state": "ready",
                "user_id": principal.user_id, "kind": principal.kind.value}})
            await _relay(ws, sub, _admission(request, principal))
    finally:
        sockets.discard(ws)
        await ws.close()
    return ws


async def _close_sockets(app: web.Application) -> None:
    app[APPS].bus.publish(events.SERVER_STATE, {"state": "stopping"})
    app[APPS].bus.close_all()
    for ws in list(app[SOCKETS].all):
        await ws.close(code=1001, message=b"server shutting down")


def setup(app: web.Application) -> None:
    app[SOCKETS] = OpenSockets()
    app.router.add_get("/bodhi/v1/events", events_socket)
    app.on_shutdown.append(_close_sockets)
