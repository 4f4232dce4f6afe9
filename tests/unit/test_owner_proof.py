"""The owner proof on the real app (``build_app``): the companion proves itself, owner routes
take only requests signed with the owner secret over a fresh single-use nonce, and the
sign-in mode can no longer be chosen by whoever reaches the port first."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.app import build_app
from companion.auth import ApiTokenService, TokenScope
from companion.auth.owner_challenges import MAX_OPEN_NONCES, OwnerChallenges
from companion.auth.owner_login import issue_ticket
from companion.auth.sessions import SESSION_COOKIE
from companion.core.errors import AuthenticationError, BadRequestError
from companion.core.keyed_digest import KeyedDigest
from companion.core.owner_proof import (
    CHALLENGE_PATH,
    companion_proof,
    new_nonce,
    owner_headers,
    owner_proof,
)
from companion.core.owner_secret import read_owner_secret
from companion.core.settings import load_settings, public_url
from companion.storage import ApiTokenRepository, Database

Client = TestClient[web.Request, web.Application]
ATTACKER_ISSUER = "http://127.0.0.1:9/realms/attacker"
ATTACK = {"mode": "oidc", "name": "Mine now", "issuer": ATTACKER_ISSUER,
          "client_id": "attacker"}


@dataclass
class Owner:
    """The app under test, and what the owner's programs know: the secret and the URL."""

    client: Client
    secret: str
    url: str
    home: Path

    async def challenge(self) -> tuple[str, dict[str, Any]]:
        client_nonce = new_nonce()
        response = await self.client.post(CHALLENGE_PATH, json={"client_nonce": client_nonce})
        assert response.status == 200, await response.text()
        return client_nonce, await response.json()

    async def post(self, path: str, body: dict[str, Any], secret: str | None = None,
                   nonce: str | None = None) -> tuple[int, dict[str, Any]]:
        """POST signed with ``secret`` (default the owner's) over ``nonce`` (default fresh)."""
        if nonce is None:
            nonce = (await self.challenge())[1]["server_nonce"]
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json",
                   **owner_headers(secret or self.secret, self.url, nonce, "POST", path, raw)}
        response = await self.client.post(path, data=raw, headers=headers)
        return response.status, await response.json()

    async def info(self) -> dict[str, Any]:
        info: dict[str, Any] = await (await self.client.get("/bodhi/v1/info")).json()
        return info


@pytest.fixture
async def owner(tmp_path: Path, aiohttp_client: Any) -> AsyncIterator[Owner]:
    settings = load_settings(env={"BODHI_HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf")})
    client: Client = await aiohttp_client(await build_app(settings))
    yield Owner(client, read_owner_secret(tmp_path), public_url(settings), tmp_path)


def _refused(status: int, body: dict[str, Any]) -> bool:
    return status == 401 and body["error"]["code"] == "auth_error-owner_proof_invalid"


# --- setup takeover ------------------------------------------------------------------------


async def test_a_fresh_install_is_ready_in_local_mode(owner: Owner) -> None:
    info = await owner.info()

    assert (info["status"], info["auth_mode"]) == ("ready", "local")


async def test_anyone_reaching_the_port_cannot_choose_the_sign_in_mode(owner: Owner) -> None:
    # The attack: a plain HTTP client picks OIDC with its own provider on a fresh install.
    plain = await owner.client.post("/bodhi/v1/setup", json=ATTACK)
    forged = await owner.post("/bodhi/v1/setup", ATTACK, secret="guessed-" + "x" * 40)

    assert _refused(plain.status, await plain.json())
    assert _refused(*forged)
    info = await owner.info()
    assert (info["auth_mode"], info["name"]) == ("local", "Bodhi companion")


async def test_the_owner_changes_the_mode_over_http_with_proof(owner: Owner) -> None:
    status, body = await owner.post("/bodhi/v1/setup", {
        "mode": "oidc", "name": "Team", "issuer": "https://id.example.com/realms/team/",
        "client_id": "bodhi", "client_secret": "kept-secret"})
    assert status == 200, body
    assert (body["status"], body["auth_mode"], body["name"]) == ("ready", "oidc", "Team")
    assert any("https://id.example.com/realms/team" in line for line in body["changes"])
    assert "kept-secret" not in json.dumps(body)

    status, body = await owner.post("/bodhi/v1/setup", {"mode": "local"})
    assert status == 200, body
    info = await owner.info()
    assert (info["auth_mode"], info["name"]) == ("local", "Team")


async def test_session_and_tokens_do_not_count_on_owner_routes(owner: Owner) -> None:
    db = await Database.open(owner.home / "bodhi.sqlite")
    ticket = await issue_ticket(db, KeyedDigest.for_home(owner.home))
    signed_in = await owner.client.get(f"/bodhi/v1/auth/owner-login?ticket={ticket}")
    cookie = {"Cookie": f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE].value}"}
    me = await (await owner.client.get("/bodhi/v1/user", headers=cookie)).json()
    assert me["role"] == "resource_admin"
    token = await ApiTokenService(ApiTokenRepository(db)).create("t", TokenScope.POWER_USER)
    # The admin's own browser session, from our own origin, or an API token: no owner proof.
    by_session = await owner.client.post("/bodhi/v1/setup", json=ATTACK, headers={
        **cookie, "Origin": f"http://{owner.client.host}:{owner.client.port}",
        "Sec-Fetch-Site": "same-origin"})
    by_token = await owner.client.post("/bodhi/v1/owner/extension-credential",
                                       json={"extension_id": "x"},
                                       headers={"Authorization": f"Bearer {token[1]}"})

    await db.close()
    assert _refused(by_session.status, await by_session.json())
    assert _refused(by_token.status, await by_token.json())


# --- the exchange --------------------------------------------------------------------------


async def test_the_companion_proves_it_holds_the_owner_secret(owner: Owner) -> None:
    client_nonce, answer = await owner.challenge()

    assert answer["proof"] == companion_proof(owner.secret, owner.url, client_nonce,
                                              answer["server_nonce"])
    assert answer["proof"] != companion_proof("another secret", owner.url, client_nonce,
                                              answer["server_nonce"])
    assert owner.secret not in json.dumps(answer)


async def test_a_nonce_is_good_for_one_request(owner: Owner) -> None:
    nonce = (await owner.challenge())[1]["server_nonce"]

    first = await owner.post("/bodhi/v1/owner/login-link", {}, nonce=nonce)
    replayed = await owner.post("/bodhi/v1/owner/login-link", {}, nonce=nonce)

    assert first[0] == 200 and first[1]["url"].startswith(owner.url + "/bodhi/v1/auth/")
    assert _refused(*replayed)


async def test_the_proof_covers_path_and_body(owner: Owner) -> None:
    nonce = (await owner.challenge())[1]["server_nonce"]
    signed = json.dumps({"mode": "local"}).encode()
    headers = {"Content-Type": "application/json",
               **owner_headers(owner.secret, owner.url, nonce, "POST", "/bodhi/v1/setup",
                               signed)}

    other_body = await owner.client.post("/bodhi/v1/setup", data=json.dumps(ATTACK),
                                         headers=headers)

    assert _refused(other_body.status, await other_body.json())
    assert (await owner.info())["auth_mode"] == "local"


async def test_a_bad_client_nonce_gets_a_clear_error(owner: Owner) -> None:
    response = await owner.client.post(CHALLENGE_PATH, json={"client_nonce": "short"})

    assert response.status == 400
    assert (await response.json())["error"]["param"] == "client_nonce"


def test_nonces_expire_and_their_number_is_bounded() -> None:
    now = [1000.0]
    challenges = OwnerChallenges("secret", "http://127.0.0.1:1135", ttl_secs=30,
                                 clock=lambda: now[0])
    stale = challenges.challenge(new_nonce()).server_nonce
    now[0] += 31
    with pytest.raises(AuthenticationError):
        challenges.verify(stale, owner_proof("secret", "http://127.0.0.1:1135", stale, "POST",
                                             "/x", b""), "POST", "/x", b"")
    first = challenges.challenge(new_nonce()).server_nonce
    for _ in range(MAX_OPEN_NONCES):
        challenges.challenge(new_nonce())
    with pytest.raises(AuthenticationError):       # the oldest made room
        challenges.verify(first, owner_proof("secret", "http://127.0.0.1:1135", first, "POST",
                                             "/x", b""), "POST", "/x", b"")
    with pytest.raises(BadRequestError):
        challenges.challenge("not a nonce!")
