"""OAuth authorization code + PKCE for apps outside the browser, end to end over HTTP."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from companion.access.oauth import OAuthClient
from tests.unit.apps_harness import OWNER_SESSION, Harness, bearer, harness

__all__ = ["harness"]

REDIRECT = "http://127.0.0.1:9876/callback"


@pytest.fixture
async def client_app(harness: Harness) -> OAuthClient:
    return await harness.apps.oauth.register("Notes", [REDIRECT])


def _authorize_query(client_id: str, verifier: str, **extra: str) -> dict[str, str]:
    return {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code",
            "scope": "chat models", "state": "st-123",
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256", **extra}


async def _consent(harness: Harness, client: OAuthClient, verifier: str,
                   decision: str = "allow") -> dict[str, list[str]]:
    """Open the consent page as the owner, submit it, return the redirect's query."""
    page = await harness.client.get("/oauth/authorize", headers=OWNER_SESSION,
                                    params=_authorize_query(client.client_id, verifier))
    assert page.status == 200, await page.text()
    text = await page.text()
    assert "Notes" in text and 'data-testid="consent-allow"' in text
    match = re.search(r'name="request_id" value="([^"]+)"', text)
    assert match is not None
    form = {"request_id": match.group(1), "decision": decision, "scope": "models",
            "all_models": "1"}
    done = await harness.client.post("/oauth/authorize", data=form, headers=OWNER_SESSION,
                                     allow_redirects=False)
    assert done.status == 302, await done.text()
    location = done.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


async def _exchange(harness: Harness, client: OAuthClient, code: str, verifier: str,
                    redirect_uri: str = REDIRECT) -> tuple[int, dict[str, Any]]:
    resp = await harness.client.post("/oauth/token", data={
        "grant_type": "authorization_code", "client_id": client.client_id, "code": code,
        "redirect_uri": redirect_uri, "code_verifier": verifier})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def test_metadata(harness: Harness) -> None:
    meta = await (await harness.client.get("/.well-known/oauth-authorization-server")).json()
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint"].endswith("/oauth/token")
    assert meta["authorization_endpoint"].endswith("/oauth/authorize")


async def test_happy_path_then_refresh_and_revoke(harness: Harness,
                                                  client_app: OAuthClient) -> None:
    verifier = secrets.token_urlsafe(48)
    query = await _consent(harness, client_app, verifier)
    assert query["state"] == ["st-123"]
    with sqlite3.connect(harness.db_path) as conn:
        [(stored,)] = conn.execute("SELECT code_hash FROM oauth_codes").fetchall()
    # Keyed: a digest read from the database does not match a plain hash of the code.
    assert stored != hashlib.sha256(query["code"][0].encode()).hexdigest()
    status, tokens = await _exchange(harness, client_app, query["code"][0], verifier)
    assert status == 200, tokens
    assert tokens["scope"] == "models" and tokens["token_type"] == "Bearer"
    assert (await harness.client.get("/v1/models", headers=bearer(tokens["access_token"]))
            ).status == 200
    refreshed = await harness.client.post("/oauth/token", data={
        "grant_type": "refresh_token", "client_id": client_app.client_id,
        "refresh_token": tokens["refresh_token"]})
    assert refreshed.status == 200
    newer = await refreshed.json()
    revoked = await harness.client.post("/oauth/revoke", data={"token": newer["refresh_token"]})
    assert revoked.status == 200
    again = await harness.client.post("/oauth/token", data={
        "grant_type": "refresh_token", "client_id": client_app.client_id,
        "refresh_token": newer["refresh_token"]})
    assert again.status == 400
    assert (await again.json())["error"] == "invalid_grant"


async def test_wrong_verifier_is_refused(harness: Harness, client_app: OAuthClient) -> None:
    verifier = secrets.token_urlsafe(48)
    query = await _consent(harness, client_app, verifier)
    status, body = await _exchange(harness, client_app, query["code"][0],
                                   secrets.token_urlsafe(48))
    assert status == 400 and body["error"] == "invalid_grant"
    status, body = await _exchange(harness, client_app, query["code"][0], "")
    assert status == 400


async def test_reused_code_is_refused_and_revokes_its_grant(
        harness: Harness, client_app: OAuthClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = (await _consent(harness, client_app, verifier))["code"][0]
    status, tokens = await _exchange(harness, client_app, code, verifier)
    assert status == 200
    status, body = await _exchange(harness, client_app, code, verifier)
    assert status == 400 and body["error"] == "invalid_grant"
    after = await harness.client.get("/v1/models", headers=bearer(tokens["access_token"]))
    assert after.status == 401


async def test_wrong_redirect_uri_is_refused(harness: Harness,
                                             client_app: OAuthClient) -> None:
    verifier = secrets.token_urlsafe(48)
    code = (await _consent(harness, client_app, verifier))["code"][0]
    status, body = await _exchange(harness, client_app, code, verifier,
                                   redirect_uri="http://127.0.0.1:9876/other")
    assert status == 400 and body["error"] == "invalid_grant"
    # An unregistered redirect URI is never redirected to: the error is shown here.
    page = await harness.client.get("/oauth/authorize", headers=OWNER_SESSION, params={
        **_authorize_query(client_app.client_id, verifier),
        "redirect_uri": "http://127.0.0.1:6666/evil"}, allow_redirects=False)
    assert page.status == 400
    assert "Location" not in page.headers


async def test_pkce_is_required(harness: Harness, client_app: OAuthClient) -> None:
    query = _authorize_query(client_app.client_id, secrets.token_urlsafe(48),
                             code_challenge_method="plain")
    resp = await harness.client.get("/oauth/authorize", headers=OWNER_SESSION, params=query,
                                    allow_redirects=False)
    assert resp.status == 302
    sent = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert sent["error"] == ["invalid_request"] and sent["state"] == ["st-123"]


async def test_consent_needs_a_session_and_deny_redirects(
        harness: Harness, client_app: OAuthClient) -> None:
    verifier = secrets.token_urlsafe(48)
    anonymous = await harness.client.get("/oauth/authorize",
                                         params=_authorize_query(client_app.client_id, verifier))
    assert anonymous.status == 401
    as_extension = await harness.client.post("/oauth/authorize", headers=harness.ext,
                                             data={"request_id": "x", "decision": "allow"})
    assert as_extension.status == 401
    query = await _consent(harness, client_app, verifier, decision="deny")
    assert query["error"] == ["access_denied"] and "code" not in query


async def test_unknown_client_and_grant_type(harness: Harness) -> None:
    resp = await harness.client.post("/oauth/token", data={"grant_type": "password",
                                                           "client_id": "x"})
    assert resp.status == 400
    assert (await resp.json())["error"] == "unsupported_grant_type"
    page = await harness.client.get("/oauth/authorize", headers=OWNER_SESSION,
                                    params=_authorize_query("nobody", "v" * 43))
    assert page.status == 400
    assert (await page.json())["error"] == "invalid_client"


async def test_redirect_uris_must_be_https_or_loopback(harness: Harness) -> None:
    from companion.core.errors import BadRequestError

    for uri in ("http://example.com/cb", "ftp://127.0.0.1/cb", "https://x.test/cb#frag"):
        with pytest.raises(BadRequestError):
            await harness.apps.oauth.register("Bad", [uri])
    ok = await harness.apps.oauth.register("Good", ["https://x.test/cb",
                                                    "http://localhost:8080/cb"])
    assert ok.client_id.startswith("bodhi-client-")


async def test_consent_page_escapes_the_app_name_and_names_where_it_returns(
        harness: Harness) -> None:
    hostile = '<script>alert(1)</script> & <b onclick="x">Notes</b>'
    client = await harness.apps.oauth.register(hostile, [REDIRECT])
    page = await harness.client.get("/oauth/authorize", headers=OWNER_SESSION,
                                    params=_authorize_query(client.client_id, "v" * 50))
    text = await page.text()

    assert page.status == 200
    assert "<script" not in text and "<b onclick" not in text
    assert ("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b onclick=&quot;x&quot;&gt;"
            "Notes&lt;/b&gt;") in text
    assert "you go back to <strong>127.0.0.1:9876</strong>" in text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    # Enter submits the first button, which must be Deny; nothing is remembered unasked.
    assert text.index('data-testid="consent-deny"') < text.index('data-testid="consent-allow"')
    remember = re.search(r"<input[^>]*data-testid='remember'[^>]*>", text)
    assert remember is not None and "checked" not in remember.group(0)
