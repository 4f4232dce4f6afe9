"""companion/middleware/access: route declarations enforced by the auth middleware."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.auth import ApiTokenService, TokenScope
from companion.auth.principal import Principal, PrincipalKind, Role
from companion.middleware import setup_middlewares
from companion.middleware.access import AccessRule, check, optional_auth, public, requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.hosts import allowed_hosts

Client = TestClient[web.Request, web.Application]


def _who() -> Any:
    """A fresh handler each call: declarations are attributes of the handler function."""

    async def who(request: web.Request) -> web.Response:
        principal = request[PRINCIPAL]
        return web.json_response({"kind": principal.kind.value,
                                  "role": principal.role.value if principal.role else None})

    return who


@pytest.fixture
async def client(aiohttp_client: Any, tokens: ApiTokenService) -> Client:
    app = web.Application()
    setup_middlewares(app, allowed_hosts=allowed_hosts("127.0.0.1", ""), max_body=1000,
                      tokens=tokens)
    app.router.add_get("/bodhi/v1/public", public(_who()))
    app.router.add_get("/bodhi/v1/optional", optional_auth(_who()))
    app.router.add_get("/bodhi/v1/undeclared", _who())
    app.router.add_get("/bodhi/v1/power", requires(Role.POWER_USER)(_who()))
    app.router.add_get("/bodhi/v1/session", requires(Role.USER, session_only=True)(_who()))
    result: Client = await aiohttp_client(app)
    return result


async def _bearer(tokens: ApiTokenService, scope: TokenScope) -> dict[str, str]:
    _, raw = await tokens.create(f"t-{scope.value}", scope)
    return {"Authorization": f"Bearer {raw}"}


async def test_public_ignores_even_a_bad_token(client: Client) -> None:
    resp = await client.get("/bodhi/v1/public", headers={"Authorization": "Bearer nope"})
    assert resp.status == 200
    assert (await resp.json())["kind"] == "anonymous"


async def test_optional_resolves_a_token_and_allows_none(client: Client,
                                                         tokens: ApiTokenService) -> None:
    assert (await (await client.get("/bodhi/v1/optional")).json())["kind"] == "anonymous"
    resp = await client.get("/bodhi/v1/optional",
                            headers=await _bearer(tokens, TokenScope.USER))
    assert await resp.json() == {"kind": "api_token", "role": "resource_user"}
    bad = await client.get("/bodhi/v1/optional", headers={"Authorization": "Bearer bodhiapp_x"})
    assert bad.status == 401


async def test_undeclared_route_fails_closed(client: Client, tokens: ApiTokenService) -> None:
    assert (await client.get("/bodhi/v1/undeclared")).status == 401
    ok = await client.get("/bodhi/v1/undeclared", headers=await _bearer(tokens, TokenScope.USER))
    assert ok.status == 200


async def test_user_token_below_power_user_route_is_403(client: Client,
                                                        tokens: ApiTokenService) -> None:
    resp = await client.get("/bodhi/v1/power", headers=await _bearer(tokens, TokenScope.USER))
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "auth_error-insufficient_role"
    power = await _bearer(tokens, TokenScope.POWER_USER)
    assert (await client.get("/bodhi/v1/power", headers=power)).status == 200


async def test_session_only_route_refuses_tokens_with_401(client: Client,
                                                          tokens: ApiTokenService) -> None:
    resp = await client.get("/bodhi/v1/session",
                            headers=await _bearer(tokens, TokenScope.POWER_USER))
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "auth_error-wrong_credential_kind"


def test_app_scope_applies_to_app_tokens_only() -> None:
    rule = AccessRule(role=Role.USER, app_scope="chat")
    app = Principal(PrincipalKind.APP_TOKEN, role=Role.USER, scopes=frozenset({"models"}))
    with pytest.raises(Exception, match="'chat' scope"):
        check(rule, app)
    check(rule, Principal(PrincipalKind.APP_TOKEN, role=Role.USER, scopes=frozenset({"chat"})))
    check(rule, Principal(PrincipalKind.API_TOKEN, role=Role.USER))


def test_model_grants() -> None:
    assert Principal(PrincipalKind.API_TOKEN, role=Role.USER).may_use_model("any")
    limited = Principal(PrincipalKind.API_TOKEN, role=Role.USER, models=frozenset({"a"}))
    assert limited.may_use_model("a") and not limited.may_use_model("b")


def test_role_ladder() -> None:
    assert Role.ADMIN.at_least(Role.MANAGER) and Role.MANAGER.at_least(Role.POWER_USER)
    assert not Role.USER.at_least(Role.POWER_USER)
