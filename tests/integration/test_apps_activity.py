"""The record of app requests on the real companion and model: a site's token from the real
flow (pairing, request, approval, exchange) and an OAuth app's token from the real code + PKCE
flow call the model; the owner's session reads what each did (model, status, duration, the
call refused outside the grant), and nothing of the prompt is stored."""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import openai
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.conftest import Companion, wait_until
from tests.integration.mcp_api import owner_session, paired_extension

MODEL = "smollm2:135m"
ORIGIN = "http://127.0.0.1:8201"
PROMPT = "Say hello to the purple-walrus-4491."


@pytest.fixture(scope="module")
def owner(shared_companion: Companion) -> Iterator[httpx.Client]:
    client = owner_session(shared_companion)
    client.base_url = httpx.URL(shared_companion.url)
    yield client
    client.close()


def site_grant(companion: Companion) -> dict[str, Any]:
    """A page's grant as the extension gets it: request, approve (models limited), exchange."""
    ext = {"Authorization": f"Bearer {paired_extension(companion)}"}
    with httpx.Client(base_url=companion.url, headers=ext, timeout=30) as http:
        opened = http.post("/bodhi/v1/apps/request-access", json={
            "origin": ORIGIN, "app_name": "Activity page",
            "requested": {"scopes": ["chat", "models"], "models": [MODEL]}}).json()
        approved = http.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/approve",
                             json={"scopes": ["chat", "models"], "models": [MODEL]})
        assert approved.status_code == 200, approved.text
        tokens = http.post("/bodhi/v1/apps/token", json={"grant_type": "access_request",
                                                         "request_id": opened["id"]})
        assert tokens.status_code == 200, tokens.text
        result: dict[str, Any] = tokens.json()
        return result


def oauth_token(companion: Companion, owner: httpx.Client) -> tuple[str, dict[str, Any]]:
    """An OAuth client's token set, through the consent page and code + PKCE."""
    redirect = "http://127.0.0.1:9/callback"
    client_id = companion.cli("app", "register", "--name", "Activity app", "--redirect-uri",
                              redirect).strip().splitlines()[-1]
    verifier = secrets.token_urlsafe(48)
    page = owner.get("/oauth/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
        "scope": "models", "state": "s", "code_challenge_method": "S256",
        "code_challenge": create_s256_code_challenge(verifier)})
    match = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert match is not None, page.text
    done = owner.post("/oauth/authorize", headers={"Origin": companion.url}, data={
        "request_id": match.group(1), "decision": "allow", "scope": "models"})
    code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
    token = httpx.post(companion.url + "/oauth/token", data={
        "grant_type": "authorization_code", "client_id": client_id, "code": code,
        "redirect_uri": redirect, "code_verifier": verifier})
    assert token.status_code == 200, token.text
    return client_id, token.json()


def activity(owner: httpx.Client, grant_id: str) -> dict[str, Any]:
    found = owner.get(f"/bodhi/v1/apps/grants/{grant_id}/activity")
    assert found.status_code == 200, found.text
    result: dict[str, Any] = found.json()
    return result


def stored_rows(companion: Companion) -> str:
    with sqlite3.connect(companion.home / "bodhi.sqlite") as conn:
        return repr(conn.execute("SELECT * FROM app_activity").fetchall())


def test_a_sites_calls_are_recorded_with_model_and_status(
        shared_companion: Companion, owner: httpx.Client) -> None:
    tokens = site_grant(shared_companion)
    with openai.OpenAI(base_url=shared_companion.url + "/v1", api_key=tokens["access_token"],
                       max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model=MODEL, max_tokens=4, messages=[
            {"role": "user", "content": PROMPT}])
        assert reply.choices[0].message.content is not None
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(model="not-in-the-grant", max_tokens=2, messages=[
                {"role": "user", "content": PROMPT}])

    found = activity(owner, tokens["grant_id"])

    assert (found["app"], found["total"]) == (ORIGIN, 2)
    refused, answered = found["data"]
    assert (refused["path"], refused["model"], refused["status"]) == (
        "/v1/chat/completions", "not-in-the-grant", 404)
    assert (answered["method"], answered["path"], answered["model"], answered["status"]) == (
        "POST", "/v1/chat/completions", MODEL, 200)
    assert answered["duration_ms"] > 0
    assert found["last_used_at"] is not None
    assert "purple-walrus" not in stored_rows(shared_companion)
    grants = owner.get("/bodhi/v1/apps/grants", params={"page_size": 100}).json()["data"]
    assert next(g for g in grants if g["id"] == tokens["grant_id"])["last_used_at"]


def test_an_oauth_apps_calls_are_recorded_and_written_in_a_batch(
        shared_companion: Companion, owner: httpx.Client) -> None:
    client_id, tokens = oauth_token(shared_companion, owner)
    listed = httpx.get(shared_companion.url + "/v1/models",
                       headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert listed.status_code == 200

    # Nobody reads it: the periodic batch writes it by itself.
    assert wait_until(lambda: tokens["grant_id"] in stored_rows(shared_companion), 30)
    found = activity(owner, tokens["grant_id"])
    assert found["app"] == client_id
    assert [(e["method"], e["path"], e["model"], e["status"]) for e in found["data"]] == [
        ("GET", "/v1/models", None, 200)]
