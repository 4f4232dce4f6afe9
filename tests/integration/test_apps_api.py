"""Apps against the real companion and the real model: pair, ask, approve, chat, revoke."""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import httpx
import openai
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from companion.access.extension import MAX_PAIRING_FAILURES
from tests.conftest import Companion
from tests.integration.test_downloads_api import power_token

MODEL = "smollm2:135m"
ORIGIN = "http://127.0.0.1:8001"
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def credential(shared_companion: Companion) -> str:
    """Paired the manual way: ``bodhi pair`` prints a code, the popup posts it."""
    code = shared_companion.cli("pair").strip().splitlines()[-1]
    resp = httpx.post(shared_companion.url + "/bodhi/v1/apps/extension/pair",
                      json={"code": code, "extension_id": "test-ext", "browser": "chromium"})
    assert resp.status_code == 200, resp.text
    raw: str = resp.json()["credential"]
    return raw


def test_a_wrong_code_then_the_right_one(shared_companion: Companion) -> None:
    """The refusal counts down the tries left; pairing with the right code resets it."""
    pair = shared_companion.url + "/bodhi/v1/apps/extension/pair"
    code = shared_companion.cli("pair").strip().splitlines()[-1]
    wrong = [httpx.post(pair, json={"code": f"ZZZZ-{n:04d}"}).json()["error"] for n in (1, 2)]
    assert httpx.post(pair, json={"code": code}).status_code == 200
    after = httpx.post(pair, json={"code": "ZZZZ-0003"}).json()["error"]

    assert wrong[1]["tries_left"] == wrong[0]["tries_left"] - 1
    assert f"{wrong[1]['tries_left']} tries left" in wrong[1]["message"]
    assert (after["tries_left"], after["codes_cancelled"]) == (MAX_PAIRING_FAILURES - 1, False)


def _grant(companion: Companion, credential: str, **terms: Any) -> dict[str, Any]:
    ext = {"Authorization": f"Bearer {credential}"}
    with httpx.Client(base_url=companion.url, headers=ext, timeout=30) as http:
        opened = http.post("/bodhi/v1/apps/request-access", json={
            "origin": terms.pop("origin", ORIGIN), "app_name": "Test page",
            "requested": {"scopes": terms.get("scopes", ["chat"])}}).json()
        approved = http.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/approve",
                             json={"scopes": ["chat"], "models": None, **terms})
        assert approved.status_code == 200, approved.text
        tokens = http.post("/bodhi/v1/apps/token", json={"grant_type": "access_request",
                                                         "request_id": opened["id"]})
        assert tokens.status_code == 200, tokens.text
        result: dict[str, Any] = tokens.json()
        return result


def _sdk(companion: Companion, access_token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=companion.url + "/v1", api_key=access_token, max_retries=0)


def test_app_token_chats_with_the_real_model(shared_companion: Companion,
                                             credential: str) -> None:
    tokens = _grant(shared_companion, credential)
    with _sdk(shared_companion, tokens["access_token"]) as sdk:
        reply = sdk.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=8,
                                            temperature=0)
        assert reply.choices[0].message.content
        chunks = [c.choices[0].delta.content for c in sdk.chat.completions.create(
            model=MODEL, messages=HELLO, max_tokens=24, temperature=0, stream=True)
            if c.choices and c.choices[0].delta.content]
        assert len(chunks) >= 2
        # Only "chat" was granted: embeddings are refused.
        with pytest.raises(openai.PermissionDeniedError):
            sdk.embeddings.create(model=MODEL, input=["hi"])


def test_model_restriction_and_revoke(shared_companion: Companion, credential: str) -> None:
    only_other = _grant(shared_companion, credential, models=["some-other-model"])
    refusals = []
    with _sdk(shared_companion, only_other["access_token"]) as sdk:
        for name in (MODEL, "no-such-model"):  # a model outside the grant looks missing
            with pytest.raises(openai.NotFoundError) as err:
                sdk.chat.completions.create(model=name, messages=HELLO, max_tokens=2)
            assert isinstance(err.value.body, dict)
            refusals.append({**err.value.body, "message": err.value.body["message"].replace(
                name, "<name>")})
        assert refusals[0] == refusals[1] and refusals[0]["code"] == "model_not_found"

    tokens = _grant(shared_companion, credential, models=[MODEL])
    revoke = httpx.post(f"{shared_companion.url}/bodhi/v1/apps/grants/"
                        f"{tokens['grant_id']}/revoke",
                        headers={"Authorization": f"Bearer {credential}"})
    assert revoke.json()["status"] == "revoked"
    with _sdk(shared_companion, tokens["access_token"]) as sdk, \
            pytest.raises(openai.AuthenticationError):
        sdk.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)


def test_cors_preflight_for_granted_origin_only(shared_companion: Companion,
                                                credential: str) -> None:
    granted = "http://127.0.0.1:8101"
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    url = shared_companion.url + "/v1/chat/completions"
    before = httpx.options(url, headers={**preflight, "Origin": granted})
    assert "access-control-allow-origin" not in before.headers
    _grant(shared_companion, credential, origin=granted, remember=True)
    after = httpx.options(url, headers={**preflight, "Origin": granted})
    assert after.status_code == 204
    assert after.headers["access-control-allow-origin"] == granted
    assert "access-control-allow-credentials" not in after.headers
    stranger = httpx.options(url, headers={**preflight, "Origin": "http://127.0.0.1:8102"})
    assert "access-control-allow-origin" not in stranger.headers


async def test_events_socket_on_the_real_server(shared_companion: Companion,
                                                credential: str) -> None:
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(shared_companion.url + "/bodhi/v1/events") as ws:
        await ws.send_json({"type": "auth", "token": credential})
        async with asyncio.timeout(15):
            assert (await ws.receive_json())["type"] == "hello"
            await asyncio.to_thread(_grant, shared_companion, credential)
            seen = set()
            while not {"access_request.created", "grant.created"} <= seen:
                seen.add((await ws.receive_json())["type"])


async def test_events_socket_hears_model_changes(shared_companion: Companion,
                                                 credential: str) -> None:
    headers = power_token(shared_companion)
    aliases = shared_companion.url + "/bodhi/v1/models/alias"
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(shared_companion.url + "/bodhi/v1/events") as ws:
        await ws.send_json({"type": "auth", "token": credential})
        async with asyncio.timeout(15):
            assert (await ws.receive_json())["type"] == "hello"
            made = await asyncio.to_thread(httpx.post, f"{aliases}/{MODEL}/copy",
                                           headers=headers, json={"alias": "events-copy"})
            assert made.status_code == 201, made.text
            try:
                message = await ws.receive_json()
                while message["type"] != "models.changed":
                    message = await ws.receive_json()
                assert "events-copy" in message["data"]["models"]
            finally:
                await asyncio.to_thread(httpx.delete, f"{aliases}/events-copy", headers=headers)


def test_oauth_app_with_the_real_owner_session(shared_companion: Companion) -> None:
    """``bodhi app register``, owner login from ``bodhi open``, consent, code + PKCE, chat."""
    redirect = "http://127.0.0.1:9/callback"
    client_id = shared_companion.cli("app", "register", "--name", "Notes", "--redirect-uri",
                                     redirect).strip().splitlines()[-1]
    login = shared_companion.cli("open", "--no-browser").strip().splitlines()[-1]
    verifier = secrets.token_urlsafe(48)
    same_origin = {"Origin": shared_companion.url}
    with httpx.Client(base_url=shared_companion.url, timeout=60) as browser:
        assert browser.get(login).status_code == 200
        page = browser.get("/oauth/authorize", params={
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
            "scope": "chat", "state": "xyz", "code_challenge_method": "S256",
            "code_challenge": create_s256_code_challenge(verifier)})
        assert page.status_code == 200, page.text
        match = re.search(r'name="request_id" value="([^"]+)"', page.text)
        assert match is not None
        done = browser.post("/oauth/authorize", headers=same_origin, data={
            "request_id": match.group(1), "decision": "allow", "scope": "chat",
            "model": MODEL})
    assert done.status_code == 302, done.text
    query = parse_qs(urlsplit(done.headers["location"]).query)
    assert query["state"] == ["xyz"]
    token = httpx.post(shared_companion.url + "/oauth/token", data={
        "grant_type": "authorization_code", "client_id": client_id, "code": query["code"][0],
        "redirect_uri": redirect, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    assert token.json()["models"] == [MODEL]
    with _sdk(shared_companion, token.json()["access_token"]) as sdk:
        reply = sdk.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=4)
        assert reply.choices[0].message.content is not None


def test_an_app_cannot_unload_a_model(shared_companion: Companion, credential: str) -> None:
    """Ollama's ``keep_alive: 0`` needs a power user, like the Bodhi unload route."""
    app = {"Authorization": f"Bearer {_grant(shared_companion, credential)['access_token']}"}
    url = shared_companion.url + "/api/generate"
    assert httpx.post(url, json={"model": MODEL}, headers=app,
                      timeout=120).json()["done_reason"] == "load"
    refused = httpx.post(url, json={"model": MODEL, "keep_alive": 0}, headers=app)
    assert refused.status_code == 403 and list(refused.json()) == ["error"]
    loaded = httpx.get(shared_companion.url + "/bodhi/v1/models/loaded",
                       headers=power_token(shared_companion)).json()["data"]
    assert MODEL in [m["alias"] for m in loaded]
