"""Local owner mode end to end: ready from the start (no setup window), changing the mode
with the CLI, the one-time owner login, token management over
a session, token refusals on the next request, the browser-side checks, CORS, the settings API
taking effect live, and no token in any log line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from companion.auth.owner_login import issue_ticket, owner_login_url
from companion.core.keyed_digest import KeyedDigest
from companion.storage import Database
from tests.conftest import Companion, running_companion, wait_until

MODEL = "smollm2:135m"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    # No log level from the environment, so the database edit is the one that counts.
    with running_companion(tmp_path_factory.mktemp("local"), BODHI_LOG_LEVEL="") as companion:
        yield companion


def _owner_session(companion: Companion) -> httpx.Client:
    url = companion.cli("open", "--no-browser").strip().splitlines()[-1]
    assert url.startswith(companion.url + "/bodhi/v1/auth/owner-login?ticket=bodhiol_")
    client = httpx.Client(timeout=60)
    try:
        landed = client.get(url)
        assert landed.status_code == 200, landed.text
        cookie = landed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert client.get(url).status_code == 401  # single use
    except BaseException:
        client.close()
        raise
    return client


def _ticket(home: Path, ttl: int) -> str:
    async def issue() -> str:
        db = await Database.open(home / "bodhi.sqlite")
        try:
            return await issue_ticket(db, KeyedDigest.for_home(home), ttl_secs=ttl)
        finally:
            await db.close()

    return asyncio.run(issue())


@pytest.fixture(scope="module")
def owner(local: Companion) -> Iterator[httpx.Client]:
    client = _owner_session(local)
    try:
        yield client
    finally:
        client.close()


def _setup(companion: Companion, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "companion", "setup", *args],
                          env=companion.env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def _mode(companion: Companion) -> tuple[str, str, str]:
    info = httpx.get(companion.url + "/bodhi/v1/info").json()
    return info["status"], info["auth_mode"], info["name"]


def test_a_fresh_install_has_no_setup_window(tmp_path: Path) -> None:
    with running_companion(tmp_path) as companion:
        assert _mode(companion) == ("ready", "local", "Bodhi companion")
        # The takeover: any client on the port picks OIDC with a provider it controls.
        taken = httpx.post(companion.url + "/bodhi/v1/setup", json={
            "mode": "oidc", "name": "Mine", "issuer": "http://127.0.0.1:9/evil",
            "client_id": "evil"})
        assert taken.status_code == 401
        assert taken.json()["error"]["code"] == "auth_error-owner_proof_invalid"
        assert _mode(companion) == ("ready", "local", "Bodhi companion")
        token = companion.create_token("no setup needed")
        models = httpx.get(companion.url + "/v1/models",
                           headers={"Authorization": f"Bearer {token}"})
        assert models.status_code == 200


def test_the_owner_changes_the_mode_with_the_cli_after_a_confirmation(tmp_path: Path
                                                                      ) -> None:
    oidc = ("--mode", "oidc", "--issuer", "https://id.example.com/realms/team",
            "--client-id", "bodhi", "--client-secret", "never-printed")
    with running_companion(tmp_path) as companion:
        unconfirmed = _setup(companion, *oidc)
        assert unconfirmed.returncode == 1
        assert "only you, the local owner -> OpenID Connect through " \
            "https://id.example.com/realms/team" in unconfirmed.stdout
        assert "--yes" in unconfirmed.stderr and "never-printed" not in unconfirmed.stdout
        assert _mode(companion) == ("ready", "local", "Bodhi companion")

        done = _setup(companion, *oidc, "--yes", "--name", "Team")
        assert done.returncode == 0, done.stderr
        assert _mode(companion) == ("ready", "oidc", "Team")   # the running server sees it

        back = _setup(companion, "--mode", "local", "--yes")
        assert back.returncode == 0, back.stderr
        assert "-> only you, the local owner" in back.stdout
        assert _mode(companion) == ("ready", "local", "Team")


def test_owner_login_session(local: Companion, owner: httpx.Client) -> None:
    me = owner.get(local.url + "/bodhi/v1/user").json()
    assert me == {"auth_status": "logged_in", "user_id": "owner", "username": "owner",
                  "role": "resource_admin"}


def test_owner_login_lands_on_the_web_ui(local: Companion) -> None:
    login = local.cli("open", "--no-browser").strip().splitlines()[-1]
    with httpx.Client(timeout=60) as browser:
        moving_on = browser.get(login)
        assert 'content="0;url=/ui/"' in moving_on.text
        ui = browser.get(local.url + "/ui/")
        # The small signed-in page is still there for whoever links to it.
        landed = browser.get(local.url + "/signed-in")
    assert ui.status_code == 200 and '<script type="module" src="/ui/js/main.js">' in ui.text
    assert landed.status_code == 200
    assert landed.headers["content-type"].startswith("text/html")
    assert "You are signed in as owner" in landed.text
    assert "with the role <strong>admin</strong>" in landed.text
    assert 'href="/bodhi/v1/user"' in landed.text
    anonymous = httpx.get(local.url + "/signed-in")
    assert anonymous.status_code == 401 and "You are not signed in" in anonymous.text


def test_expired_or_unknown_ticket_is_refused(local: Companion) -> None:
    expired = owner_login_url(local.url, _ticket(local.home, ttl=0))
    refused = httpx.get(expired)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "auth_error-ticket_invalid"
    assert "set-cookie" not in refused.headers
    made_up = owner_login_url(local.url, "bodhiol_" + "A" * 43)
    assert httpx.get(made_up).status_code == 401


def _create(owner: httpx.Client, url: str, **body: object) -> tuple[str, str]:
    created = owner.post(url + "/bodhi/v1/tokens", json={"name": "t", **body})
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    return created.json()["id"], created.json()["token"]


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_session_only_routes_refuse_tokens(local: Companion, owner: httpx.Client) -> None:
    _, raw = _create(owner, local.url, scope="scope_token_power_user")
    for method, path in (("GET", "/bodhi/v1/tokens"), ("POST", "/bodhi/v1/tokens"),
                         ("GET", "/bodhi/v1/settings"), ("GET", "/bodhi/v1/users")):
        refused = httpx.request(method, local.url + path, headers=_bearer(raw), json={})
        assert refused.status_code == 401, (path, refused.text)
        assert refused.json()["error"]["code"] == "auth_error-wrong_credential_kind"


def test_token_grants_and_lifecycle(local: Companion, owner: httpx.Client) -> None:
    url = local.url
    token_id, raw = _create(owner, url, models=["some-other-model"])
    listed = owner.get(url + "/v1/models", headers=_bearer(raw)).json()["data"]
    assert listed == []  # only granted models are listed
    chat = httpx.post(url + "/v1/chat/completions", headers=_bearer(raw),
                      json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 404  # like a model that does not exist
    assert chat.json()["error"]["code"] == "model_not_found"  # OpenAI shape

    assert httpx.get(url + "/v1/models", headers=_bearer(raw)).status_code == 200
    renamed = owner.put(f"{url}/bodhi/v1/tokens/{token_id}",
                        json={"name": "renamed", "status": "inactive"})
    assert renamed.json()["name"] == "renamed" and renamed.json()["status"] == "inactive"
    refused = httpx.get(url + "/v1/models", headers=_bearer(raw))  # the very next request
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "auth_error-token_inactive"
    owner.put(f"{url}/bodhi/v1/tokens/{token_id}", json={"status": "active"})
    assert httpx.get(url + "/v1/models", headers=_bearer(raw)).status_code == 200
    assert owner.delete(f"{url}/bodhi/v1/tokens/{token_id}").status_code == 204
    assert httpx.get(url + "/v1/models", headers=_bearer(raw)).status_code == 401
    assert token_id not in str(owner.get(url + "/bodhi/v1/tokens").json())


def test_expired_token_fails(local: Companion, owner: httpx.Client) -> None:
    _, raw = _create(owner, local.url, expires_in=1)

    def refused() -> bool:
        reply = httpx.get(local.url + "/v1/models", headers=_bearer(raw))
        return reply.status_code == 401 and "token_expired" in reply.text

    assert wait_until(refused, timeout=10, interval=0.2)


def test_cross_site_cookie_post_is_refused(local: Companion, owner: httpx.Client) -> None:
    url = local.url + "/bodhi/v1/tokens"
    refused = owner.post(url, json={"name": "csrf"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "auth_error-cross_site_request"
    other_origin = owner.post(url, json={"name": "csrf"},
                              headers={"Origin": "http://evil.example"})
    assert other_origin.status_code == 403
    # A cross-site GET simply does not count the cookie.
    assert owner.get(url, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 401
    names = [t["name"] for t in owner.get(url).json()["data"]]
    assert "csrf" not in names


def test_cors_preflight_from_unknown_origin(local: Companion) -> None:
    preflight = httpx.options(local.url + "/v1/chat/completions", headers={
        "Origin": "http://unknown.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-credentials" not in preflight.headers
    plain = httpx.get(local.url + "/v1/models", headers={"Origin": "http://unknown.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_settings_api_edits_take_effect_live(local: Companion, owner: httpx.Client) -> None:
    url = local.url + "/bodhi/v1/settings"
    listed = {s["key"]: s for s in owner.get(url).json()}
    assert listed["BODHI_LOG_LEVEL"]["source"] == "default"
    assert listed["BODHI_LOG_LEVEL"]["metadata"]["runtime_editable"] is True
    keep = owner.put(url + "/BODHI_KEEP_ALIVE_SECS", json={"value": 42}).json()
    assert (keep["current_value"], keep["source"]) == (42, "database")
    assert owner.put(url + "/BODHI_PORT", json={"value": 1}).status_code == 400
    assert owner.put(url + "/BODHI_KEEP_ALIVE_SECS", json={"value": -5}).status_code == 400
    reset = owner.delete(url + "/BODHI_KEEP_ALIVE_SECS").json()
    assert (reset["current_value"], reset["source"]) == (300, "default")


def test_no_token_in_logs(local: Companion, owner: httpx.Client) -> None:
    _, raw = _create(owner, local.url)
    for headers, params in (({"Authorization": f"Bearer {raw}x"}, {}),
                            ({"x-goog-api-key": raw}, {}), ({}, {"key": raw})):
        httpx.get(local.url + "/v1beta/models", headers=headers, params=params)
    time.sleep(0.5)
    log = local.log_text()
    assert raw not in log and raw[9:] not in log
    assert "bodhiol_" not in log.replace("bodhiol_***", "")


def test_log_level_edit_takes_effect_live(local: Companion, owner: httpx.Client) -> None:
    url = local.url + "/bodhi/v1/settings/BODHI_LOG_LEVEL"
    httpx.get(local.url + "/marker-at-info")
    quiet = owner.put(url, json={"value": "warning"}).json()
    assert (quiet["current_value"], quiet["source"]) == ("WARNING", "database")
    httpx.get(local.url + "/marker-at-warning")
    assert owner.delete(url).json()["current_value"] == "INFO"
    httpx.get(local.url + "/marker-after-reset")

    assert wait_until(lambda: "/marker-after-reset" in local.log_text(), timeout=10)
    log = local.log_text()
    assert "/marker-at-info" in log
    assert "/marker-at-warning" not in log  # the access log is at info level


def test_keep_alive_edit_takes_effect_live(local: Companion, owner: httpx.Client) -> None:
    """The default keeps a model 300 s; set to 1 s at runtime, the next idle child unloads."""
    url = local.url + "/bodhi/v1/settings/BODHI_KEEP_ALIVE_SECS"
    _, raw = _create(owner, local.url)
    try:
        assert owner.put(url, json={"value": 1}).json()["current_value"] == 1
        chat = httpx.post(local.url + "/v1/chat/completions", headers=_bearer(raw), timeout=120,
                          json={"model": MODEL, "max_tokens": 1,
                                "messages": [{"role": "user", "content": "hi"}]})
        assert chat.status_code == 200, chat.text
        assert local.children()
        assert wait_until(lambda: not local.children(), timeout=20)
    finally:
        owner.delete(url)
