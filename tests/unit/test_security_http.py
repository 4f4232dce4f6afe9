"""HTTP hygiene on the real app (``build_app``) with a real owner session: CSRF on public
state-changing routes, the events WebSocket (cookie only from our own origin, message size
cap, Host allow-list), and the Host allow-list on the OAuth pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.app import build_app
from companion.auth.owner_login import issue_ticket
from companion.auth.sessions import SESSION_COOKIE
from companion.core.keyed_digest import KeyedDigest
from companion.core.settings import load_settings
from companion.middleware.body_limit import SMALL_BODY_BYTES
from companion.routes.events import CLOSE_UNAUTHORIZED, MAX_CLIENT_MESSAGE_BYTES
from companion.storage import Database

Client = TestClient[web.Request, web.Application]
OTHER_PORT = "http://localhost:8001"     # the same *site* as the companion


@dataclass
class Signed:
    client: Client
    cookie: dict[str, str]

    @property
    def origin(self) -> str:
        return f"http://{self.client.host}:{self.client.port}"

    async def who(self) -> str:
        response = await self.client.get("/bodhi/v1/user", headers=self.cookie)
        status: str = (await response.json())["auth_status"]
        return status


async def _owner_cookie(client: Client, home: Path) -> dict[str, str]:
    db = await Database.open(home / "bodhi.sqlite")
    try:
        ticket = await issue_ticket(db, KeyedDigest.for_home(home))
    finally:
        await db.close()
    response = await client.get(f"/bodhi/v1/auth/owner-login?ticket={ticket}",
                                allow_redirects=False)
    assert response.status == 200
    client.session.cookie_jar.clear()          # each test sends the cookie it means to
    return {"Cookie": f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE].value}"}


@pytest.fixture
async def signed(tmp_path: Path, aiohttp_client: Any) -> AsyncIterator[Signed]:
    settings = load_settings(env={"BODHI_HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf")})
    client: Client = await aiohttp_client(await build_app(settings))
    yield Signed(client, await _owner_cookie(client, tmp_path))


async def test_logout_from_another_origin_is_refused(signed: Signed) -> None:
    response = await signed.client.post("/bodhi/v1/logout", headers={
        **signed.cookie, "Origin": OTHER_PORT, "Sec-Fetch-Site": "same-site"})
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "auth_error-cross_site_request"
    assert await signed.who() == "logged_in"
    mine = await signed.client.post("/bodhi/v1/logout", headers={
        **signed.cookie, "Origin": signed.origin, "Sec-Fetch-Site": "same-origin"})
    assert mine.status == 200
    assert await signed.who() == "logged_out"


async def test_setup_from_another_origin_is_refused(signed: Signed) -> None:
    # Older browsers send Origin without Sec-Fetch-Site. Setup takes only the owner's proof.
    response = await signed.client.post("/bodhi/v1/setup", json={"name": "Evil"},
                                        headers={**signed.cookie,
                                                 "Origin": "http://evil.example"})
    assert response.status == 401
    info = await (await signed.client.get("/bodhi/v1/info")).json()
    assert (info["auth_mode"], info["name"]) == ("local", "Bodhi companion")


async def _first_message(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    return await ws.receive(timeout=10)


async def test_events_cookie_counts_only_from_our_own_origin(signed: Signed) -> None:
    async with signed.client.ws_connect("/bodhi/v1/events", headers={
            **signed.cookie, "Origin": OTHER_PORT}) as ws:
        await ws.send_json({"type": "auth", "token": "not-a-credential"})
        message = await _first_message(ws)
        assert message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}
        assert ws.close_code == CLOSE_UNAUTHORIZED
    async with signed.client.ws_connect("/bodhi/v1/events", headers={
            **signed.cookie, "Origin": signed.origin}) as ws:
        hello = (await _first_message(ws)).json()
        assert hello["type"] == "hello" and hello["data"]["kind"] == "session"


async def test_events_refuses_oversized_client_messages(signed: Signed) -> None:
    async with signed.client.ws_connect("/bodhi/v1/events") as ws:
        await ws.send_str('{"type": "auth", "token": "' + "x" * MAX_CLIENT_MESSAGE_BYTES + '"}')
        message = await _first_message(ws)
        assert message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_events_deeply_nested_auth_message_is_refused_cleanly(signed: Signed) -> None:
    deep = '{"type": "auth", "token": "x", "d": ' + "[" * 7000 + "]" * 7000 + "}"
    async with signed.client.ws_connect("/bodhi/v1/events") as ws:
        await ws.send_str(deep)
        message = await _first_message(ws)
        assert message.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}
        assert ws.close_code == CLOSE_UNAUTHORIZED
    assert await signed.who() == "logged_in"


@pytest.mark.parametrize("path", ["/bodhi/v1/events", "/oauth/authorize",
                                  "/.well-known/oauth-authorization-server"])
async def test_rebound_host_names_are_refused(signed: Signed, path: str) -> None:
    response = await signed.client.get(path, headers={
        **signed.cookie, "Host": "attacker.example:1135", "Connection": "Upgrade",
        "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert response.status == 403
    assert "Host not allowed" in await response.text()


@pytest.mark.parametrize("path", ["/bodhi/v1/apps/extension/pair", "/oauth/token",
                                  "/bodhi/v1/apps/request-access", "/bodhi/v1/logout"])
async def test_control_routes_refuse_big_bodies_before_reading(signed: Signed,
                                                               path: str) -> None:
    big = b'{"code": "' + b"A" * SMALL_BODY_BYTES + b'"}'
    response = await signed.client.post(path, data=big,
                                        headers={"Content-Type": "application/json"})
    assert response.status == 413


async def test_control_routes_need_a_length(signed: Signed) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"code": '
        yield b'"K7QX-M2PD"}'

    response = await signed.client.post("/bodhi/v1/apps/extension/pair", data=chunks())
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "length_required"
    small = await signed.client.post("/bodhi/v1/apps/extension/pair",
                                     json={"code": "K7QX-M2PD"})
    assert (await small.json())["error"]["code"] == "pairing_code_invalid"
