"""OIDC mode against a real provider: first user admin, access requests and approval, role
rules, tokens and chat for an approved user, refusals of a tampered state and a replayed code,
and no secret in any response or log line."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from companion.auth.sessions import SESSION_COOKIE
from tests.conftest import Companion, running_companion
from tests.integration.oidc_provider import (
    OidcProvider,
    authorize,
    oidc_companion,
    running_provider,
    sign_in,
)

CLIENT_SECRET = "s3cret-client-value-never-shown"
MODEL = "smollm2:135m"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with running_provider(tmp_path_factory.mktemp("oidc") / "provider.log") as started:
        yield started


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider
         ) -> Iterator[Companion]:
    with oidc_companion(tmp_path_factory.mktemp("team"), provider, "bodhi-companion-test",
                        CLIENT_SECRET) as running:
        yield running


class Recorder:
    """Every response body a client saw, to prove no secret ever appears in one."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(str(response.headers) + response.text)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


NewBrowser = Callable[[], httpx.Client]


@pytest.fixture
def browser(recorder: Recorder) -> Iterator[NewBrowser]:
    """Makes one person's browser: an HTTP client with its own cookie jar."""
    clients: list[httpx.Client] = []

    def make() -> httpx.Client:
        clients.append(httpx.Client(timeout=60, event_hooks={"response": [recorder]}))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def test_info_reports_oidc_mode(team: Companion) -> None:
    info = httpx.get(team.url + "/bodhi/v1/info").json()
    assert (info["status"], info["auth_mode"], info["name"]) == ("ready", "oidc", "Team")
    assert CLIENT_SECRET not in str(info)
    again = httpx.post(team.url + "/bodhi/v1/setup", json={"mode": "local"})
    assert again.status_code == 401          # only the owner changes it (owner proof)
    assert again.json()["error"]["code"] == "auth_error-owner_proof_invalid"


def _approve(admin: httpx.Client, url: str, username: str, role: str) -> None:
    pending = admin.get(url + "/bodhi/v1/access-requests/pending").json()["data"]
    request_id = next(r["id"] for r in pending if r["username"] == username)
    approved = admin.post(f"{url}/bodhi/v1/access-requests/{request_id}/approve",
                          json={"role": role})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"


def test_two_users_approval_tokens_and_chat(team: Companion, browser: NewBrowser,
                                            recorder: Recorder) -> None:
    url = team.url
    alice, bob = browser(), browser()
    first = sign_in(alice, url, "alice@example.com")
    assert first["auth_status"] == "logged_in" and first["role"] == "resource_admin"

    second = sign_in(bob, url, "bob@example.com")
    assert second["role"] is None
    assert bob.post(url + "/bodhi/v1/tokens", json={"name": "x"}).status_code == 403
    assert bob.get(url + "/bodhi/v1/users").status_code == 403
    asked = bob.post(url + "/bodhi/v1/user/request-access")
    assert asked.status_code == 201 and asked.json()["status"] == "pending"
    assert bob.get(url + "/bodhi/v1/user/request-status").json()["status"] == "pending"

    _approve(alice, url, "bob@example.com", "resource_user")
    assert bob.get(url + "/bodhi/v1/user").json()["role"] == "resource_user"
    assert bob.get(url + "/bodhi/v1/user/request-status").json()["status"] == "approved"

    created = bob.post(url + "/bodhi/v1/tokens", json={"name": "bob's app"})
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    raw = created.json()["token"]
    refused = bob.post(url + "/bodhi/v1/tokens", json={"name": "more",
                                                       "scope": "scope_token_power_user"})
    assert refused.status_code == 403
    chat = httpx.post(url + "/v1/chat/completions", timeout=180,
                      headers={"Authorization": f"Bearer {raw}"},
                      json={"model": MODEL, "max_tokens": 3,
                            "messages": [{"role": "user", "content": "Say hi"}]})
    assert chat.status_code == 200, chat.text
    assert chat.json()["choices"][0]["message"]["role"] == "assistant"

    _assert_no_secrets(team, recorder, secrets=[raw], shown_once=raw)


def test_manager_cannot_demote_or_remove_admin(team: Companion, browser: NewBrowser) -> None:
    url = team.url
    admin, carol, dave = browser(), browser(), browser()
    assert sign_in(admin, url, "alice@example.com")["role"] == "resource_admin"
    for client, subject in ((carol, "carol@example.com"), (dave, "dave@example.com")):
        sign_in(client, url, subject)
        assert client.post(url + "/bodhi/v1/user/request-access").status_code == 201
    _approve(admin, url, "carol@example.com", "resource_manager")
    assert carol.get(url + "/bodhi/v1/user").json()["role"] == "resource_manager"

    users = {u["username"]: u for u in carol.get(url + "/bodhi/v1/users").json()["data"]}
    alice_id = users["alice@example.com"]["user_id"]
    demote = carol.put(f"{url}/bodhi/v1/users/{alice_id}/role", json={"role": "resource_user"})
    assert demote.status_code == 403
    assert carol.delete(f"{url}/bodhi/v1/users/{alice_id}").status_code == 403
    # A manager approves up to manager, never admin.
    pending = carol.get(url + "/bodhi/v1/access-requests/pending").json()["data"]
    dave_request = next(r["id"] for r in pending if r["username"] == "dave@example.com")
    too_high = carol.post(f"{url}/bodhi/v1/access-requests/{dave_request}/approve",
                          json={"role": "resource_admin"})
    assert too_high.status_code == 403
    assert admin.get(url + "/bodhi/v1/user").json()["role"] == "resource_admin"

    # A role change ends that user's sessions at once.
    carol_id = users["carol@example.com"]["user_id"]
    changed = admin.put(f"{url}/bodhi/v1/users/{carol_id}/role", json={"role": "resource_user"})
    assert changed.status_code == 200 and changed.json()["role"] == "resource_user"
    assert carol.get(url + "/bodhi/v1/user").json() == {"auth_status": "logged_out"}


async def _next_type(ws: aiohttp.ClientWebSocketResponse, within: float) -> str | None:
    """The next event's type after ``hello``, or None when none comes ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                kind = str((await ws.receive_json())["type"])
                if kind != "hello":
                    return kind
    except TimeoutError:
        return None


async def _listen(url: str, cookie: str, stack: contextlib.AsyncExitStack
                  ) -> aiohttp.ClientWebSocketResponse:
    session = await stack.enter_async_context(aiohttp.ClientSession())
    ws = await stack.enter_async_context(session.ws_connect(
        url + "/bodhi/v1/events",
        headers={"Origin": url, "Cookie": f"{SESSION_COOKIE}={cookie}"}))
    assert (await ws.receive_json())["type"] == "hello"
    return ws


def _ask(make: NewBrowser, url: str, subject: str) -> httpx.Client:
    client = make()
    sign_in(client, url, subject)
    assert client.post(url + "/bodhi/v1/user/request-access").status_code == 201
    return client


def test_user_requests_are_announced_to_managers_only(team: Companion,
                                                      browser: NewBrowser) -> None:
    url = team.url
    admin = browser()
    assert sign_in(admin, url, "alice@example.com")["role"] == "resource_admin"
    erin = _ask(browser, url, "erin@example.com")
    _approve(admin, url, "erin@example.com", "resource_manager")
    frank = browser()
    assert sign_in(frank, url, "frank@example.com")["role"] is None

    async def watch() -> None:
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await _listen(url, str(c.cookies[SESSION_COOKIE]), stack)
                       for c in (admin, erin, frank)]
            _ask(browser, url, "gina@example.com")
            assert await _next_type(sockets[0], 10) == "user_access_request.created"
            assert await _next_type(sockets[1], 10) == "user_access_request.created"
            assert await _next_type(sockets[2], 1) is None       # no role: not told
            # Demoted while connected: the next request is not shown to her socket.
            users = admin.get(url + "/bodhi/v1/users").json()["data"]
            erin_id = next(u["user_id"] for u in users if u["username"] == "erin@example.com")
            assert admin.put(f"{url}/bodhi/v1/users/{erin_id}/role",
                             json={"role": "resource_user"}).status_code == 200
            _ask(browser, url, "harry@example.com")
            assert await _next_type(sockets[0], 10) == "user_access_request.created"
            assert await _next_type(sockets[1], 1) is None

    asyncio.run(watch())


def test_tampered_state_is_refused(team: Companion, browser: NewBrowser) -> None:
    client = browser()
    back = authorize(client, team.url, "mallory@example.com")
    callback = httpx.URL(back.headers["location"])
    state = callback.params["state"]
    tampered = callback.copy_set_param("state", state[:-2] + ("xy" if state[-2:] != "xy"
                                                              else "zz"))
    refused = client.get(tampered)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "auth_error-login_failed"
    assert client.get(team.url + "/bodhi/v1/user").json() == {"auth_status": "logged_out"}


def test_replayed_code_is_refused(team: Companion, browser: NewBrowser) -> None:
    client = browser()
    back = authorize(client, team.url, "erin@example.com")
    first = httpx.URL(back.headers["location"])
    assert client.get(first).status_code == 200
    assert client.post(team.url + "/bodhi/v1/logout").status_code == 200
    # The same code again, on a fresh sign-in whose state this browser really holds.
    fresh = httpx.URL(authorize(client, team.url, "erin@example.com").headers["location"])
    replay = fresh.copy_set_param("code", first.params["code"])
    refused = client.get(replay)
    assert refused.status_code == 401
    assert client.get(team.url + "/bodhi/v1/user").json() == {"auth_status": "logged_out"}
    # And the very same callback URL twice: its state was used up.
    assert client.get(first).status_code == 401


def _assert_no_secrets(team: Companion, recorder: Recorder, secrets: list[str],
                       shown_once: str) -> None:
    log = team.log_text()
    for secret in [CLIENT_SECRET, *secrets]:
        assert secret not in log
    once = [body for body in recorder.bodies if shown_once in body]
    assert len(once) == 1  # only in the create response
    assert all(CLIENT_SECRET not in body for body in recorder.bodies)


def test_switching_to_local_mode_ends_other_users_sessions(
        tmp_path: Path, provider: OidcProvider, browser: NewBrowser) -> None:
    """``bodhi setup --mode local`` on a team companion: the running server at once refuses
    the OIDC users' sessions and any new OIDC sign-in; the owner keeps signing in."""
    companion = Companion(tmp_path)
    companion.cli("setup", "--mode", "oidc", "--issuer", provider.url, "--client-id",
                  "bodhi-companion-test", "--client-secret", CLIENT_SECRET, "--yes")
    with running_companion(tmp_path) as running:
        heidi = browser()
        assert sign_in(heidi, running.url, "heidi@example.com")["role"] == "resource_admin"

        said = running.cli("setup", "--mode", "local", "--yes")

        assert "The 1 open browser session(s) of other users end now" in said
        assert heidi.get(running.url + "/bodhi/v1/user").json() == {
            "auth_status": "logged_out"}
        again = browser().post(running.url + "/bodhi/v1/auth/initiate")
        assert again.json()["error"]["code"] == "auth_error-oidc_not_configured"
        owner = running.cli("open", "--no-browser").strip().splitlines()[-1]
        assert browser().get(owner).status_code == 200
