"""Access requests, consent decisions, app tokens and grants through the real routes."""

from __future__ import annotations

import sqlite3
import time

from companion.access.requests import DRAFT_TTL_SECS
from tests.unit.apps_harness import OWNER_SESSION, Harness, bearer, harness

__all__ = ["harness"]

ORIGIN = "http://127.0.0.1:8001"


async def test_only_the_extension_opens_requests(harness: Harness) -> None:
    body = {"origin": ORIGIN, "requested": {"scopes": ["chat"]}}
    url = "/bodhi/v1/apps/request-access"
    assert (await harness.client.post(url, json=body)).status == 401
    refused = await harness.client.post(url, json=body, headers=OWNER_SESSION)
    assert refused.status == 401
    assert (await refused.json())["error"]["code"] == "auth_error-wrong_credential_kind"
    tokens = await harness.granted()
    as_app = await harness.client.post(url, json=body,
                                       headers=bearer(tokens["access_token"]))
    assert as_app.status == 401


async def test_draft_review_and_unknown_scopes(harness: Harness) -> None:
    bad = await harness.client.post("/bodhi/v1/apps/request-access", headers=harness.ext,
                                    json={"origin": ORIGIN, "requested": {"scopes": ["root"]}})
    assert bad.status == 400
    assert (await bad.json())["error"]["code"] == "invalid_scope"
    not_origin = await harness.client.post(
        "/bodhi/v1/apps/request-access", headers=harness.ext,
        json={"origin": ORIGIN + "/path", "requested": {"scopes": ["chat"]}})
    assert not_origin.status == 400
    opened = await harness.open_request(scopes=["chat", "models"], models=["smollm2:135m"])
    assert opened["status"] == "draft"
    assert opened["review_url"].endswith(f"/bodhi/v1/apps/access-requests/{opened['id']}/review")
    assert opened["expires_at"] - time.time() > DRAFT_TTL_SECS - 30
    review = await harness.client.get(f"/bodhi/v1/apps/access-requests/{opened['id']}/review",
                                      headers=harness.ext)
    body = await review.json()
    assert body["origin"] == ORIGIN and body["status"] == "draft"
    assert body["requested"] == {"scopes": ["chat", "models"], "models": ["smollm2:135m"],
                                 "mcps": []}
    assert isinstance(body["available_models"], list)


async def test_a_page_cannot_approve(harness: Harness) -> None:
    opened = await harness.open_request()
    url = f"/bodhi/v1/apps/access-requests/{opened['id']}/approve"
    terms = {"scopes": ["chat"], "remember": True}
    assert (await harness.client.post(url, json=terms)).status == 401
    other = await harness.granted()
    as_app = await harness.client.post(url, json=terms, headers=bearer(other["access_token"]))
    assert as_app.status == 401
    status = await harness.client.get(f"/bodhi/v1/apps/access-requests/{opened['id']}",
                                      params={"app": ORIGIN})
    assert (await status.json())["status"] == "draft"
    # The user's own browser session may decide (the companion's consent page).
    approved = await harness.client.post(url, json=terms, headers=OWNER_SESSION)
    assert (await approved.json())["status"] == "approved"


async def test_status_needs_the_matching_app(harness: Harness) -> None:
    opened = await harness.open_request()
    url = f"/bodhi/v1/apps/access-requests/{opened['id']}"
    assert (await harness.client.get(url, params={"app": "http://127.0.0.1:8002"})).status \
        == 404
    assert (await harness.client.get(url)).status == 400
    assert (await (await harness.client.get(url, params={"app": ORIGIN})).json()) == {
        "id": opened["id"], "status": "draft"}


async def test_deny(harness: Harness) -> None:
    opened = await harness.open_request()
    denied = await harness.client.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/deny",
                                       headers=harness.ext)
    assert await denied.json() == {"id": opened["id"], "status": "denied"}
    late = await harness.client.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/approve",
                                     json={"scopes": ["chat"]}, headers=harness.ext)
    assert late.status == 409
    no_token = await harness.client.post("/bodhi/v1/apps/token", headers=harness.ext, json={
        "grant_type": "access_request", "request_id": opened["id"]})
    assert no_token.status == 400
    assert (await no_token.json())["error"]["code"] == "access_request_not_approved"


async def test_drafts_expire(harness: Harness) -> None:
    opened = await harness.open_request()
    with sqlite3.connect(harness.db_path) as other:
        other.execute("UPDATE app_access_requests SET expires_at = ? WHERE id = ?",
                      (int(time.time()) - 1, opened["id"]))
    status = await harness.client.get(f"/bodhi/v1/apps/access-requests/{opened['id']}",
                                      params={"app": ORIGIN})
    assert (await status.json())["status"] == "expired"
    late = await harness.client.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/approve",
                                     json={"scopes": ["chat"]}, headers=harness.ext)
    assert late.status == 409
    assert await harness.apps.requests.expire_drafts() == 1


async def test_approve_cannot_widen_scopes(harness: Harness) -> None:
    opened = await harness.open_request(scopes=["chat"])
    wider = await harness.client.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/approve",
                                      json={"scopes": ["chat", "embeddings"]},
                                      headers=harness.ext)
    assert wider.status == 400


async def test_remembered_grant_answers_at_once_but_allow_once_does_not(
        harness: Harness) -> None:
    once = await harness.open_request()
    await harness.approve(once["id"], remember=False)
    again = await harness.open_request()
    assert again["status"] == "draft"
    await harness.approve(again["id"], scopes=["chat"], remember=True)
    third = await harness.open_request()
    assert third == {"status": "approved", "grant_id": third["grant_id"], "expires_at": None}
    tokens = await harness.tokens_for_grant(third["grant_id"])
    assert tokens["grant_id"] == third["grant_id"]
    # A wider request is not covered by the remembered grant.
    assert (await harness.open_request(scopes=["chat", "models"]))["status"] == "draft"
    # Another origin gets nothing from this one's grant.
    assert (await harness.open_request("http://127.0.0.1:8002"))["status"] == "draft"


async def test_token_claims_and_scope_restriction(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["chat"], models=["smollm2:135m"])
    assert tokens["token_type"] == "Bearer" and 0 < tokens["expires_in"] <= 900
    assert tokens["scope"] == "chat" and tokens["models"] == ["smollm2:135m"]
    app = bearer(tokens["access_token"])
    # /v1/models needs the "models" scope, which this app was not granted.
    refused = await harness.client.get("/v1/models", headers=app)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "auth_error-missing_scope"
    # App tokens cannot manage grants.
    assert (await harness.client.get("/bodhi/v1/apps/grants", headers=app)).status == 401


async def test_revoked_grant_is_refused_on_the_next_request(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"])
    app = bearer(tokens["access_token"])
    assert (await harness.client.get("/v1/models", headers=app)).status == 200
    revoked = await harness.client.post(f"/bodhi/v1/apps/grants/{tokens['grant_id']}/revoke",
                                        headers=harness.ext)
    assert (await revoked.json())["status"] == "revoked"
    after = await harness.client.get("/v1/models", headers=app)
    assert after.status == 401
    assert (await after.json())["error"]["code"] == "auth_error-grant_revoked"
    refresh = await harness.client.post("/bodhi/v1/apps/token", headers=harness.ext, json={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.status == 401


async def test_revoke_from_another_process_is_refused_next(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"])
    app = bearer(tokens["access_token"])
    assert (await harness.client.get("/v1/models", headers=app)).status == 200
    with sqlite3.connect(harness.db_path) as other:
        other.execute("UPDATE app_grants SET status = 'revoked' WHERE id = ?",
                      (tokens["grant_id"],))
    assert (await harness.client.get("/v1/models", headers=app)).status == 401


async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_family(
        harness: Harness) -> None:
    first = await harness.granted(scopes=["models"])
    url, ext = "/bodhi/v1/apps/token", harness.ext
    second = await (await harness.client.post(url, headers=ext, json={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await harness.client.get("/v1/models", headers=bearer(second["access_token"]))
            ).status == 200
    reused = await harness.client.post(url, headers=ext, json={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert reused.status == 401
    # The reuse revoked the newer refresh token too.
    newer = await harness.client.post(url, headers=ext, json={
        "grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
    assert newer.status == 401


async def test_a_refresh_after_the_grant_ran_out_says_it_expired(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"])
    ended = int(time.time()) - 1
    with sqlite3.connect(harness.db_path) as other:  # the grant's time is up
        other.execute("UPDATE app_grants SET expires_at = ? WHERE id = ?",
                      (ended, tokens["grant_id"]))
        other.execute("UPDATE app_refresh_tokens SET expires_at = ? WHERE grant_id = ?",
                      (ended, tokens["grant_id"]))
    refresh = await harness.client.post("/bodhi/v1/apps/token", headers=harness.ext, json={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.status == 401
    assert (await refresh.json())["error"]["code"] == "auth_error-grant_expired"


async def test_tampered_and_foreign_tokens_are_refused(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"])
    head, payload, sig = tokens["access_token"].split(".")
    forged = f"{head}.{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    resp = await harness.client.get("/v1/models", headers=bearer(forged))
    assert resp.status == 401


async def test_grants_list_with_last_use(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"], remember=True)
    await harness.client.get("/v1/models", headers=bearer(tokens["access_token"]))
    await harness.apps.flush_last_used()
    listed = await (await harness.client.get("/bodhi/v1/apps/grants",
                                             headers=OWNER_SESSION)).json()
    assert listed["total"] == 1 and listed["page"] == 1
    grant = listed["data"][0]
    assert grant["id"] == tokens["grant_id"] and grant["app"] == ORIGIN
    assert grant["status"] == "active" and grant["remember"] is True
    assert grant["scopes"] == ["models"] and grant["models"] is None
    assert grant["last_used_at"] is not None
    other_user = bearer("test-session-someone-else")
    assert (await (await harness.client.get("/bodhi/v1/apps/grants",
                                            headers=other_user)).json())["total"] == 0
    assert (await harness.client.post(f"/bodhi/v1/apps/grants/{grant['id']}/revoke",
                                      headers=other_user)).status == 404
