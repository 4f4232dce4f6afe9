"""The OAuth protocol module's decisions against servers that misbehave in ways the real test
server (tests/mcp_servers/oauth_server.py) does not: metadata served through fallbacks, no
PKCE S256, plain HTTP, another resource or issuer, no registration, secrets echoed back.
Each fake server is an httpx transport, the seam every upstream client is made with."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest

from companion.core.upstream import make_client
from companion.mcp.oauth_flow import (
    AuthServerInfo,
    ClientCredentials,
    McpAuthError,
    TokenSet,
    discover,
    exchange_code,
    needs_refresh,
    read_callback,
    refresh,
    register_client,
    start_login,
)

MCP = "https://mcp.example/tools/mcp"
ISSUER = "https://auth.example/tenant"
PRM = {"resource": MCP, "authorization_servers": [ISSUER], "scopes_supported": ["tools"]}
ASM = {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/authorize",
       "token_endpoint": f"{ISSUER}/token", "registration_endpoint": f"{ISSUER}/register",
       "code_challenge_methods_supported": ["S256"], "response_types_supported": ["code"]}
INFO = AuthServerInfo(
    server_url=MCP, resource=MCP, issuer=ISSUER, authorization_endpoint=f"{ISSUER}/authorize",
    token_endpoint=f"{ISSUER}/token", registration_endpoint=None, scopes_supported=("tools",),
    code_challenge_methods=("S256",))
CREDS = ClientCredentials("the-client", "the-client-secret-value", "client_secret_post")

Routes = Mapping[str, Callable[[httpx.Request], httpx.Response] | dict[str, Any]]


def _client(routes: Routes, seen: list[httpx.Request] | None = None) -> httpx.AsyncClient:
    """A fake upstream: a JSON document per URL, or a handler; 404 elsewhere."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        route = routes.get(str(request.url.copy_with(query=None)))
        if route is None:
            return httpx.Response(404)
        return route(request) if callable(route) else httpx.Response(200, json=route)

    return make_client(httpx.MockTransport(handle))


def _unauthorized(header: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(401, headers={"WWW-Authenticate": header})


async def test_discovery_follows_the_header_then_the_oauth_path_form() -> None:
    seen: list[httpx.Request] = []
    meta_url = "https://mcp.example/meta/prm"
    routes: Routes = {MCP: _unauthorized(f'Bearer error="invalid_token", '
                                         f'resource_metadata="{meta_url}"'),
                      meta_url: PRM,
                      "https://auth.example/.well-known/oauth-authorization-server/tenant": ASM}
    async with _client(routes, seen) as client:
        info = await discover(client, MCP)
    assert info.resource == MCP and info.issuer == ISSUER
    assert info.registration_endpoint == f"{ISSUER}/register"
    assert info.scopes_supported == ("tools",)
    assert [str(r.url) for r in seen][1] == meta_url  # the header's URL first
    assert seen[0].method == "POST" and seen[0].headers["mcp-protocol-version"]


async def test_discovery_falls_back_to_the_well_known_forms_and_openid() -> None:
    seen: list[httpx.Request] = []
    routes: Routes = {"https://mcp.example/.well-known/oauth-protected-resource": PRM,
                      "https://auth.example/tenant/.well-known/openid-configuration": ASM}
    async with _client(routes, seen) as client:
        info = await discover(client, MCP)
    assert info.token_endpoint == f"{ISSUER}/token"
    assert [str(r.url) for r in seen[1:]] == [
        "https://mcp.example/.well-known/oauth-protected-resource/tools/mcp",
        "https://mcp.example/.well-known/oauth-protected-resource",
        "https://auth.example/.well-known/oauth-authorization-server/tenant",
        "https://auth.example/.well-known/openid-configuration/tenant",
        "https://auth.example/tenant/.well-known/openid-configuration"]


@pytest.mark.parametrize(("prm", "asm", "code", "words"), [
    (PRM, {**ASM, "code_challenge_methods_supported": ["plain"]}, "mcp_oauth_no_pkce", "S256"),
    (PRM, {k: v for k, v in ASM.items() if k != "code_challenge_methods_supported"},
     "mcp_oauth_no_pkce", "S256"),
    (PRM, {**ASM, "token_endpoint": "http://auth.example/token"}, "mcp_oauth_insecure",
     "HTTPS"),
    ({**PRM, "resource": "https://elsewhere.example/mcp"}, ASM, "mcp_oauth_discovery_failed",
     "another resource"),
    (PRM, {**ASM, "issuer": "https://evil.example"}, "mcp_oauth_discovery_failed",
     "another issuer"),
    (PRM, None, "mcp_oauth_discovery_failed", "RFC 8414"),
    (None, ASM, "mcp_oauth_discovery_failed", "RFC 9728"),
])
async def test_discovery_refuses(prm: dict[str, Any] | None, asm: dict[str, Any] | None,
                                 code: str, words: str) -> None:
    routes: dict[str, Any] = {}
    if prm is not None:
        routes["https://mcp.example/.well-known/oauth-protected-resource/tools/mcp"] = prm
    if asm is not None:
        routes["https://auth.example/.well-known/oauth-authorization-server/tenant"] = asm
    async with _client(routes) as client:
        with pytest.raises(McpAuthError) as caught:
            await discover(client, MCP)
    assert caught.value.code == code and words in caught.value.message


async def test_discovery_stops_at_a_server_error() -> None:
    routes: Routes = {"https://mcp.example/.well-known/oauth-protected-resource/tools/mcp":
                      lambda _: httpx.Response(503)}
    async with _client(routes) as client:
        with pytest.raises(McpAuthError) as caught:
            await discover(client, MCP)
    assert caught.value.code == "mcp_oauth_discovery_failed" and "503" in caught.value.message


async def test_registration_needs_an_endpoint() -> None:
    async with _client({}) as client:
        with pytest.raises(McpAuthError) as caught:
            await register_client(client, INFO, "http://127.0.0.1:1/cb", "Bodhi")
    assert caught.value.status == 400
    assert caught.value.code == "mcp_oauth_registration_unsupported"
    assert "register a client by hand and enter its id and secret" in caught.value.message


async def test_registration_sends_the_metadata_and_reads_the_client() -> None:
    seen: list[httpx.Request] = []
    info = AuthServerInfo(**{**INFO.__dict__, "registration_endpoint": f"{ISSUER}/register",
                             "token_endpoint_auth_methods": ("client_secret_post",)})
    answer = {"client_id": "new", "client_secret": "s3cret",
              "token_endpoint_auth_method": "client_secret_post"}
    async with _client({f"{ISSUER}/register": lambda _: httpx.Response(201, json=answer)},
                       seen) as client:
        creds = await register_client(client, info, "http://127.0.0.1:1/cb", "Bodhi")
    assert creds == ClientCredentials("new", "s3cret", "client_secret_post")
    assert "s3cret" not in repr(creds)
    sent = json.loads(seen[0].content)
    assert sent["redirect_uris"] == ["http://127.0.0.1:1/cb"] and sent["client_name"] == "Bodhi"
    assert sent["token_endpoint_auth_method"] == "client_secret_post"
    assert sent["grant_types"] == ["authorization_code", "refresh_token"]


async def test_registration_for_an_unsupported_method_is_refused() -> None:
    info = AuthServerInfo(**{**INFO.__dict__, "registration_endpoint": f"{ISSUER}/register"})
    answer = {"client_id": "new", "token_endpoint_auth_method": "private_key_jwt"}
    async with _client({f"{ISSUER}/register": lambda _: httpx.Response(201, json=answer)}
                       ) as client:
        with pytest.raises(McpAuthError) as caught:
            await register_client(client, info, "http://127.0.0.1:1/cb", "Bodhi")
    assert caught.value.code == "mcp_oauth_registration_failed"


def test_start_login_asks_for_pkce_s256_the_resource_and_the_scopes() -> None:
    pending = start_login(INFO, CREDS, "http://127.0.0.1:1/cb", None)
    params = httpx.URL(pending.authorize_url).params
    assert params["code_challenge_method"] == "S256" and params["resource"] == MCP
    assert params["scope"] == "tools" and params["state"] == pending.state
    assert params["code_challenge"] != pending.code_verifier
    assert pending.code_verifier not in pending.authorize_url
    assert "scope" not in httpx.URL(start_login(INFO, CREDS, "x:/", []).authorize_url).params
    assert start_login(INFO, CREDS, "x:/", None).state != pending.state


async def test_token_errors_never_repeat_a_secret() -> None:
    def echo_everything(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_grant",
                                         "error_description": request.content.decode()})

    pending = start_login(INFO, CREDS, "http://127.0.0.1:1/cb", None)
    async with _client({f"{ISSUER}/token": echo_everything}) as client:
        with pytest.raises(McpAuthError) as exchanged:
            await exchange_code(client, INFO, CREDS, pending, "the-code-value",
                                "http://127.0.0.1:1/cb")
        with pytest.raises(McpAuthError) as refreshed:
            await refresh(client, INFO, CREDS, "the-refresh-token-value")
    for error in (exchanged.value, refreshed.value):
        assert error.oauth_error == "invalid_grant" and "[redacted]" in error.message
        for secret in ("the-code-value", pending.code_verifier, CREDS.client_secret,
                       "the-refresh-token-value"):
            assert secret and secret not in error.message


async def test_refresh_keeps_the_refresh_token_when_no_new_one_comes() -> None:
    answer = {"access_token": "new-access", "token_type": "bearer", "expires_in": 120}
    async with _client({f"{ISSUER}/token": lambda _: httpx.Response(200, json=answer)}
                       ) as client:
        tokens = await refresh(client, INFO, CREDS, "kept-refresh")
    assert tokens.access_token == "new-access" and tokens.refresh_token == "kept-refresh"
    assert tokens.expires_at and 100 < tokens.expires_at - time.time() <= 120
    assert "new-access" not in repr(tokens) and "kept-refresh" not in repr(tokens)


async def test_an_unreachable_server_is_told_apart_from_a_refusal() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with _client({f"{ISSUER}/token": down}) as client:
        with pytest.raises(McpAuthError) as caught:
            await refresh(client, INFO, CREDS, "a-refresh-token")
    assert caught.value.code == "mcp_oauth_unreachable" and caught.value.oauth_error is None


def test_needs_refresh() -> None:
    tokens = TokenSet("a", "r", expires_at=1000.0, scope=None)
    assert not needs_refresh(tokens, now=900.0)
    assert needs_refresh(tokens, now=940.0)
    assert not needs_refresh(tokens, now=999.0, margin_secs=0)
    assert needs_refresh(tokens, now=1000.0, margin_secs=0)
    assert not needs_refresh(TokenSet("a", None, None, None), now=1e12)


@pytest.mark.parametrize(("params", "code"), [
    ({"code": "c"}, "mcp_oauth_state_mismatch"),
    ({"code": "c", "state": "other"}, "mcp_oauth_state_mismatch"),
    ({"state": "s", "error": "access_denied", "error_description": "no"}, "mcp_oauth_denied"),
    ({"code": "c", "state": "s", "iss": "https://evil.example"}, "mcp_oauth_issuer_mismatch"),
    ({"state": "s"}, "mcp_oauth_no_code"),
])
def test_read_callback_refuses(params: dict[str, str], code: str) -> None:
    with pytest.raises(McpAuthError) as caught:
        read_callback(params, "s", INFO)
    assert caught.value.code == code and caught.value.status == 400


def test_read_callback_needs_iss_where_the_server_promised_it() -> None:
    promised = AuthServerInfo(**{**INFO.__dict__, "iss_in_response": True})
    with pytest.raises(McpAuthError):
        read_callback({"code": "c", "state": "s"}, "s", promised)
    assert read_callback({"code": "c", "state": "s", "iss": ISSUER}, "s", promised) == "c"
    assert read_callback({"code": "c", "state": "s"}, "s", INFO) == "c"


@pytest.mark.parametrize(("secret", "method"), [(None, "client_secret_basic"),
                                                ("s", "private_key_jwt")])
def test_client_credentials_are_checked(secret: str | None, method: Any) -> None:
    with pytest.raises(McpAuthError) as caught:
        ClientCredentials("id", secret, method)
    assert caught.value.code == "mcp_oauth_bad_client" and caught.value.status == 400
