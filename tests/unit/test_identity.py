"""companion/middleware (credentials, session, CORS) and companion/auth (tokens with users,
users, owner tickets, runtime settings) on a tiny real app and a real SQLite database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.auth import ApiTokenService, TokenScope
from companion.auth.owner_login import issue_ticket, owner_login_url, redeem_ticket
from companion.auth.principal import Principal, PrincipalKind, Role
from companion.auth.sessions import SESSION_COOKIE
from companion.core.errors import AuthenticationError, ForbiddenError
from companion.core.keyed_digest import KeyedDigest
from companion.core.runtime_settings import RuntimeSettings
from companion.core.settings import Source, load_settings
from companion.middleware import setup_middlewares
from companion.middleware.access import requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.hosts import allowed_hosts
from companion.routes.identity import signed_in_body
from companion.storage import Database, SettingOverrideRepository, UserRepository

Client = TestClient[web.Request, web.Application]
GRANTED = "http://granted.example"
SESSION_ID = "a-valid-session-id"
OWNER_SESSION = Principal(PrincipalKind.SESSION, role=Role.ADMIN, user_id="owner",
                          username="owner")


def _who() -> Any:
    async def who(request: web.Request) -> web.Response:
        principal = request[PRINCIPAL]
        return web.json_response({"kind": principal.kind.value, "user_id": principal.user_id,
                                  "role": principal.role.value if principal.role else None})

    return who


async def _stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: 1\n\n")
    await response.write_eof()
    return response


async def _granted(origin: str) -> bool:
    return origin == GRANTED


async def _session(session_id: str) -> Principal | None:
    return OWNER_SESSION if session_id == SESSION_ID else None


@pytest.fixture
async def client(aiohttp_client: Any, tokens: ApiTokenService) -> Client:
    app = web.Application()
    setup_middlewares(app, allowed_hosts=allowed_hosts("127.0.0.1", ""), max_body=1000,
                      tokens=tokens, sessions=_session, origin_allowed=_granted)
    for path in ("/v1/x", "/anthropic/v1/x", "/v1/messages", "/v1beta/models"):
        app.router.add_get(path, requires(Role.USER)(_who()))
    app.router.add_get("/bodhi/v1/power", requires(Role.POWER_USER)(_who()))
    app.router.add_get("/bodhi/v1/session", requires(Role.USER, session_only=True)(_who()))
    app.router.add_post("/bodhi/v1/session", requires(Role.USER, session_only=True)(_who()))
    app.router.add_get("/v1/stream", requires(Role.USER)(_stream))
    result: Client = await aiohttp_client(app)
    return result


async def _raw(tokens: ApiTokenService, scope: TokenScope = TokenScope.USER, **kw: Any) -> str:
    _, raw = await tokens.create("t", scope, **kw)
    return raw


# --- header normalisation and roles ----------------------------------------------------------


@pytest.mark.parametrize(("path", "header", "param"), [
    ("/anthropic/v1/x", "x-api-key", None), ("/v1/messages", "x-api-key", None),
    ("/v1beta/models", "x-goog-api-key", None), ("/v1beta/models", None, "key")])
async def test_family_headers_become_the_bearer(client: Client, tokens: ApiTokenService,
                                                path: str, header: str | None,
                                                param: str | None) -> None:
    raw = await _raw(tokens)
    resp = await client.get(path, headers={header: raw} if header else {},
                            params={param: raw} if param else {})
    assert resp.status == 200
    assert (await resp.json())["kind"] == "api_token"


async def test_family_headers_only_on_their_family(client: Client,
                                                   tokens: ApiTokenService) -> None:
    raw = await _raw(tokens)
    assert (await client.get("/v1/x", headers={"x-api-key": raw})).status == 401
    assert (await client.get("/v1/x", params={"key": raw})).status == 401


async def test_user_token_cannot_call_power_user_route(client: Client,
                                                       tokens: ApiTokenService) -> None:
    user = await client.get("/bodhi/v1/power",
                            headers={"Authorization": f"Bearer {await _raw(tokens)}"})
    assert user.status == 403
    assert (await user.json())["error"]["code"] == "auth_error-insufficient_role"
    power = await _raw(tokens, TokenScope.POWER_USER)
    ok = await client.get("/bodhi/v1/power", headers={"Authorization": f"Bearer {power}"})
    assert ok.status == 200


# --- session cookie --------------------------------------------------------------------------


@pytest.mark.parametrize("site", [None, "same-origin", "none"])
async def test_cookie_counts_from_our_own_site(client: Client, site: str | None) -> None:
    headers = {"Sec-Fetch-Site": site} if site else {}
    resp = await client.get("/bodhi/v1/session", headers=headers,
                            cookies={SESSION_COOKIE: SESSION_ID})
    assert resp.status == 200
    assert (await resp.json())["user_id"] == "owner"


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_cookie_ignored_from_other_sites(client: Client, site: str) -> None:
    resp = await client.get("/bodhi/v1/session", headers={"Sec-Fetch-Site": site},
                            cookies={SESSION_COOKIE: SESSION_ID})
    assert resp.status == 401


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "none"},
                                     {"Origin": "http://evil.example"}])
async def test_state_change_with_cookie_must_be_same_origin(client: Client,
                                                            headers: dict[str, str]) -> None:
    resp = await client.post("/bodhi/v1/session", headers=headers,
                             cookies={SESSION_COOKIE: SESSION_ID})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "auth_error-cross_site_request"


async def test_same_origin_post_with_cookie(client: Client) -> None:
    origin = str(client.make_url("")).rstrip("/")
    resp = await client.post("/bodhi/v1/session", cookies={SESSION_COOKIE: SESSION_ID},
                             headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert resp.status == 200


async def test_session_only_route_refuses_tokens(client: Client,
                                                 tokens: ApiTokenService) -> None:
    raw = await _raw(tokens, TokenScope.POWER_USER)
    resp = await client.get("/bodhi/v1/session", headers={"Authorization": f"Bearer {raw}"})
    assert resp.status == 401


# --- CORS ------------------------------------------------------------------------------------


async def test_cors_for_a_granted_origin_without_credentials(client: Client,
                                                             tokens: ApiTokenService) -> None:
    raw = await _raw(tokens)
    for path in ("/v1/x", "/v1/stream"):
        resp = await client.get(path, headers={"Origin": GRANTED,
                                               "Authorization": f"Bearer {raw}"})
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == GRANTED
        assert "Access-Control-Allow-Credentials" not in resp.headers
    refused = await client.get("/v1/x", headers={"Origin": GRANTED})
    assert refused.status == 401  # a granted page can read its error
    assert refused.headers["Access-Control-Allow-Origin"] == GRANTED


async def test_cors_preflight(client: Client) -> None:
    ok = await client.options("/v1/x", headers={
        "Origin": GRANTED, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == GRANTED
    assert ok.headers["Access-Control-Allow-Headers"] == "authorization"
    unknown = await client.options("/v1/x", headers={
        "Origin": "http://unknown.example", "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in unknown.headers


async def test_no_cors_on_session_only_routes(client: Client) -> None:
    pre = await client.options("/bodhi/v1/session", headers={
        "Origin": GRANTED, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in pre.headers
    resp = await client.get("/bodhi/v1/session", headers={"Origin": GRANTED})
    assert "Access-Control-Allow-Origin" not in resp.headers


# --- tokens and their users ------------------------------------------------------------------


async def test_token_acts_with_at_most_its_users_role(db: Database,
                                                      tokens: ApiTokenService) -> None:
    users = UserRepository(db)
    await users.upsert_login("u1", "u1", None, 0, Role.ADMIN.value)  # first user: admin
    await users.set_role("u1", Role.POWER_USER.value, 0)
    raw = await _raw(tokens, TokenScope.POWER_USER, user_id="u1")
    assert (await tokens.verify(raw) or pytest.fail()).role is Role.POWER_USER
    await users.set_role("u1", Role.USER.value, 0)
    tokens.invalidate()
    assert (await tokens.verify(raw) or pytest.fail()).role is Role.USER
    await users.delete("u1")
    tokens.invalidate()
    with pytest.raises(AuthenticationError) as refused:
        await tokens.verify(raw)
    assert refused.value.code == "auth_error-user_inactive"


async def test_a_cached_tokens_principal_follows_its_users_role(db: Database,
                                                             tokens: ApiTokenService) -> None:
    # The principal is made once per verified token and kept with it; a role change must
    # still reach the very next request.
    users = UserRepository(db)
    await users.upsert_login("u1", "u1", None, 0, Role.ADMIN.value)
    raw = await _raw(tokens, TokenScope.POWER_USER, user_id="u1")
    first = await tokens.verify(raw) or pytest.fail()
    assert first.principal.role is Role.POWER_USER
    assert (await tokens.verify(raw) or pytest.fail()).principal is first.principal  # cached
    await users.set_role("u1", Role.USER.value, 0)
    tokens.invalidate()
    assert (await tokens.verify(raw) or pytest.fail()).principal.role is Role.USER


async def test_first_sign_in_becomes_admin_only_once(db: Database) -> None:
    users = UserRepository(db)
    first = await users.upsert_login("a", "alice", None, 1, Role.ADMIN.value)
    second = await users.upsert_login("b", "bob", None, 2, Role.ADMIN.value)
    again = await users.upsert_login("a", "alice2", None, 3, Role.ADMIN.value)
    assert (first.role, second.role, again.role) == ("resource_admin", None, "resource_admin")
    assert again.username == "alice2"


async def test_token_scope_cannot_exceed_creator(tokens: ApiTokenService) -> None:
    with pytest.raises(ForbiddenError):
        await tokens.create("t", TokenScope.POWER_USER, creator_role=Role.USER)


async def test_expired_token_is_refused_even_from_cache(tokens: ApiTokenService) -> None:
    token, raw = await tokens.create("t", expires_in=1)
    assert await tokens.verify(raw) is not None  # now cached
    assert token.expires_at is not None
    await asyncio.sleep(max(0.0, token.expires_at - time.time()) + 0.05)
    with pytest.raises(AuthenticationError) as refused:
        await tokens.verify(raw)
    assert refused.value.code == "auth_error-token_expired"


async def test_model_grant_travels_to_the_principal(tokens: ApiTokenService) -> None:
    raw = await _raw(tokens, models=["a", "b"])
    token = await tokens.verify(raw)
    assert token is not None and token.models == frozenset({"a", "b"})


# --- owner tickets ---------------------------------------------------------------------------


async def test_owner_ticket_single_use_and_expiry(db: Database, tmp_path: Path) -> None:
    keyed = KeyedDigest.for_home(tmp_path)
    ticket = await issue_ticket(db, keyed)
    assert owner_login_url("http://127.0.0.1:1135/", ticket) == (
        f"http://127.0.0.1:1135/bodhi/v1/auth/owner-login?ticket={ticket}")
    await redeem_ticket(db, keyed, ticket)
    with pytest.raises(AuthenticationError):
        await redeem_ticket(db, keyed, ticket)
    with pytest.raises(AuthenticationError):
        await redeem_ticket(db, keyed, await issue_ticket(db, keyed, ttl_secs=0))
    async with db.conn.execute("SELECT ticket_hash FROM owner_login_tickets") as cur:
        stored = [row[0] for row in await cur.fetchall()]
    assert ticket not in stored and len(stored) == 2


# --- runtime settings ------------------------------------------------------------------------


async def test_database_layer_between_environment_and_file(db: Database, tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("BODHI_KEEP_ALIVE_SECS: 7\nBODHI_LOG_LEVEL: error\n")
    settings = load_settings({}, {"BODHI_HOME": str(tmp_path), "BODHI_LOG_LEVEL": "debug"})
    applied: list[object] = []
    runtime = RuntimeSettings(settings, SettingOverrideRepository(db),
                              {"BODHI_KEEP_ALIVE_SECS": applied.append})
    await runtime.load()
    assert settings.source("BODHI_KEEP_ALIVE_SECS") is Source.SETTINGS_FILE
    view = await runtime.update("BODHI_KEEP_ALIVE_SECS", "60")
    assert (view.current_value, view.source) == (60, "database")
    assert applied == [7, 60]
    level = await runtime.update("BODHI_LOG_LEVEL", "warning")
    assert (level.current_value, level.source) == ("DEBUG", "environment")  # env wins
    assert (await runtime.reset("BODHI_KEEP_ALIVE_SECS")).current_value == 7


def test_the_signed_in_page_escapes_the_user_name() -> None:
    hostile = Principal(PrincipalKind.SESSION, role=None, user_id="u1",
                        username='<img src=x onerror="alert(1)">')

    body = signed_in_body(hostile)

    assert "<img" not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body
    assert "no role yet" in body and "/bodhi/v1/tokens" not in body
