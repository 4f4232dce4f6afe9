"""The events WebSocket (in-band auth, live events) and CORS for granted origins."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from companion.core.events import EventBus
from companion.routes.events import CLOSE_UNAUTHORIZED
from tests.unit.apps_harness import Harness, bearer, harness

__all__ = ["harness"]

ORIGIN = "http://127.0.0.1:8001"


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of ``kind``, skipping others; bounded in time."""
    async with asyncio.timeout(10):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == kind:
                return message


async def test_events_after_in_band_auth(harness: Harness) -> None:
    async with harness.client.ws_connect("/bodhi/v1/events") as ws:
        await ws.send_json({"type": "auth", "token": harness.credential})
        hello = await _next(ws, "hello")
        assert hello["data"]["user_id"] == "owner" and hello["data"]["state"] == "ready"
        opened = await harness.open_request()
        created = await _next(ws, "access_request.created")
        assert created["data"]["id"] == opened["id"]
        assert created["data"]["origin"] == ORIGIN
        await harness.approve(opened["id"])
        grant = await _next(ws, "grant.created")
        updated = await _next(ws, "access_request.updated")
        assert updated["data"] == {"id": opened["id"], "app": ORIGIN, "status": "approved",
                                   "grant_id": grant["data"]["id"]}
        await harness.client.post(f"/bodhi/v1/apps/grants/{grant['data']['id']}/revoke",
                                  headers=harness.ext)
        revoked = await _next(ws, "grant.revoked")
        assert revoked["data"]["status"] == "revoked"


@pytest.mark.parametrize("first", [
    {"type": "auth", "token": "bodhiext_wrong"},
    {"type": "auth", "token": "bodhiapp_not-an-extension"},
    {"type": "subscribe"},
])
async def test_bad_first_message_closes_4401(harness: Harness, first: dict[str, Any]) -> None:
    async with harness.client.ws_connect("/bodhi/v1/events") as ws:
        await ws.send_json(first)
        async with asyncio.timeout(10):
            message = await ws.receive()
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == CLOSE_UNAUTHORIZED


async def test_app_token_cannot_listen(harness: Harness) -> None:
    tokens = await harness.granted()
    async with harness.client.ws_connect("/bodhi/v1/events") as ws:
        await ws.send_json({"type": "auth", "token": tokens["access_token"]})
        async with asyncio.timeout(10):
            await ws.receive()
        assert ws.close_code == CLOSE_UNAUTHORIZED


async def test_bus_drops_a_subscriber_that_falls_behind() -> None:
    bus = EventBus()
    async with bus.subscribe("owner") as sub:
        for i in range(1000):
            bus.publish("x", {"i": i}, user_id="owner")
        assert bus.subscriber_count == 0
        items = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        assert items[-1] is None
    async with bus.subscribe("a") as only_a:
        bus.publish("x", {}, user_id="b")
        bus.publish("y", {})
        got = only_a.queue.get_nowait()
        assert got is not None and got.type == "y" and only_a.queue.empty()


def _preflight(method: str = "POST") -> dict[str, str]:
    return {"Origin": ORIGIN, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type"}


async def test_cors_only_for_a_granted_origin(harness: Harness) -> None:
    before = await harness.client.options("/v1/chat/completions", headers=_preflight())
    assert "Access-Control-Allow-Origin" not in before.headers
    tokens = await harness.granted(scopes=["models"])
    allowed = await harness.client.options("/v1/chat/completions", headers=_preflight())
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    other = await harness.client.options("/v1/chat/completions", headers={
        **_preflight(), "Origin": "http://127.0.0.1:8002"})
    assert "Access-Control-Allow-Origin" not in other.headers
    actual = await harness.client.get("/v1/models", headers={
        **bearer(tokens["access_token"]), "Origin": ORIGIN})
    assert actual.status == 200
    assert actual.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Credentials" not in actual.headers
    # Errors carry the header too, so the page can read why it was refused.
    refused = await harness.client.post("/v1/chat/completions", json={}, headers={
        **bearer(tokens["access_token"]), "Origin": ORIGIN})
    assert refused.status == 403
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    await harness.client.post(f"/bodhi/v1/apps/grants/{tokens['grant_id']}/revoke",
                              headers=harness.ext)
    # ...but once revoked, the origin has no grant and gets no CORS at all.
    gone = await harness.client.options("/v1/models", headers=_preflight("GET"))
    assert "Access-Control-Allow-Origin" not in gone.headers


async def test_no_cors_on_routes_an_app_token_cannot_call(harness: Harness) -> None:
    await harness.granted(scopes=["models"])
    for path in ("/bodhi/v1/apps/request-access", "/bodhi/v1/apps/token"):
        resp = await harness.client.options(path, headers=_preflight())
        assert "Access-Control-Allow-Origin" not in resp.headers, path
    listing = await harness.client.options("/bodhi/v1/apps/grants", headers=_preflight("GET"))
    assert "Access-Control-Allow-Origin" not in listing.headers


async def test_no_cors_on_public_routes_that_trade_secrets(harness: Harness) -> None:
    """A granted page must never read a credential minted for a guessed pairing code."""
    await harness.granted(scopes=["models"])
    code = await harness.apps.extension.new_pairing_code("owner")
    for path in ("/bodhi/v1/apps/extension/pair", "/oauth/token"):
        pre = await harness.client.options(path, headers=_preflight())
        assert "Access-Control-Allow-Origin" not in pre.headers, path
    from_page = await harness.client.post("/bodhi/v1/apps/extension/pair",
                                          json={"code": code}, headers={"Origin": ORIGIN})
    assert from_page.status == 403        # pages cannot pair at all (test_apps_pairing.py)
    assert "Access-Control-Allow-Origin" not in from_page.headers
