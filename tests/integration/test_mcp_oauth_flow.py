"""OAuth 2.1 with a real OAuth-protected MCP server (tests/mcp_servers/oauth_server.py):
discovery, registration, PKCE login, the code exchange, a tool call with the token, refresh
after expiry, and the server's refusals (wrong verifier, wrong redirect URI, plain PKCE,
missing resource), none of whose errors may carry a secret."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from companion.core.upstream import make_client
from companion.mcp.oauth_flow import (
    AuthServerInfo,
    ClientCredentials,
    McpAuthError,
    PendingLogin,
    TokenAuthMethod,
    TokenSet,
    discover,
    exchange_code,
    needs_refresh,
    preregistered_client,
    read_callback,
    refresh,
    register_client,
    start_login,
)
from tests.mcp_servers import serving

REDIRECT = "http://127.0.0.1:9/bodhi/v1/mcps/oauth/callback"
WAIT_SECS = 20


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving("oauth_server") as url:
        yield url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as http:
        yield http


async def _authorize(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """What the user's browser gets from the authorize URL (the server approves at once)."""
    return await http.get(url, timeout=WAIT_SECS)


async def _code(http: httpx.AsyncClient, info: AuthServerInfo, pending: PendingLogin) -> str:
    reply = await _authorize(http, pending.authorize_url)
    assert reply.status_code == 302, reply.text
    location = httpx.URL(reply.headers["location"])
    assert str(location.copy_with(query=None)) == REDIRECT
    return read_callback(dict(location.params), pending.state, info)


async def _login(http: httpx.AsyncClient, server: str,
                 ) -> tuple[AuthServerInfo, ClientCredentials, TokenSet]:
    info = await discover(http, f"{server}/mcp")
    creds = await register_client(http, info, REDIRECT, "Bodhi test")
    pending = start_login(info, creds, REDIRECT, None)
    code = await _code(http, info, pending)
    return info, creds, await exchange_code(http, info, creds, pending, code, REDIRECT)


async def _add(server: str, access_token: str) -> Any:
    """``add(2, 3)`` through the SDK's own client, with the bearer token."""
    with anyio.fail_after(WAIT_SECS):
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {access_token}"},
                                      timeout=httpx2.Timeout(WAIT_SECS)) as http, \
                streamable_http_client(f"{server}/mcp", http_client=http) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("add", {"a": 2, "b": 3})
    assert not result.is_error
    return result.structured_content


async def _mcp_status(http: httpx.AsyncClient, server: str, access_token: str | None) -> int:
    headers = {"Accept": "application/json, text/event-stream"}
    if access_token:
        headers["Authorization"] = f"Bearer {access_token}"
    reply = await http.post(f"{server}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                            headers=headers, timeout=WAIT_SECS)
    return reply.status_code


async def _manual_client(http: httpx.AsyncClient, info: AuthServerInfo,
                         method: TokenAuthMethod) -> ClientCredentials:
    """A client registered by hand (out of band), as an admin would enter it."""
    assert info.registration_endpoint
    reply = await http.post(info.registration_endpoint, timeout=WAIT_SECS, json={
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": method,
        "client_name": "by hand"})
    assert reply.status_code == 201, reply.text
    body = reply.json()
    return ClientCredentials(body["client_id"], body.get("client_secret"), method)


def _assert_no_secrets(error: McpAuthError, *secrets: str | None) -> None:
    for secret in secrets:
        assert secret and secret not in error.message and secret not in str(error)


async def test_an_unauthenticated_request_is_refused_with_the_resource_metadata(
        server: str, client: httpx.AsyncClient) -> None:
    reply = await client.post(f"{server}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                              headers={"Accept": "application/json, text/event-stream"})
    assert reply.status_code == 401
    assert (f'resource_metadata="{server}/.well-known/oauth-protected-resource/mcp"'
            in reply.headers["www-authenticate"])
    assert await _mcp_status(client, server, "not-a-token") == 401


async def test_discover_finds_the_resource_and_its_authorization_server(
        server: str, client: httpx.AsyncClient) -> None:
    info = await discover(client, f"{server}/mcp")
    assert info.resource == f"{server}/mcp"
    assert info.issuer == server
    assert info.authorization_endpoint == f"{server}/authorize"
    assert info.token_endpoint == f"{server}/token"
    assert info.registration_endpoint == f"{server}/register"
    assert info.scopes_supported == ("mcp",)
    assert "S256" in info.code_challenge_methods
    # What the storage keeps comes back the same.
    assert AuthServerInfo.from_dict(json.loads(json.dumps(dataclasses.asdict(info)))) == info


async def test_discover_reports_a_server_that_is_not_there(client: httpx.AsyncClient) -> None:
    with serving("oauth_server") as gone:
        pass
    with pytest.raises(McpAuthError) as caught:
        await discover(client, f"{gone}/mcp")
    assert caught.value.code == "mcp_oauth_unreachable" and gone in caught.value.message


async def test_discover_refuses_a_server_without_oauth_metadata(
        client: httpx.AsyncClient) -> None:
    with serving("tools") as public, pytest.raises(McpAuthError) as caught:
        await discover(client, f"{public}/mcp")
    assert caught.value.code == "mcp_oauth_discovery_failed"
    assert "protected-resource metadata" in caught.value.message


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
async def test_login_then_call_a_tool(server: str, client: httpx.AsyncClient,
                                      method: TokenAuthMethod) -> None:
    info = await discover(client, f"{server}/mcp")
    if method == "client_secret_basic":  # what dynamic registration picks on this server
        creds = await register_client(client, info, REDIRECT, "Bodhi test")
    else:
        creds = await _manual_client(client, info, method)
    assert creds.token_endpoint_auth_method == method
    assert (creds.client_secret is None) == (method == "none")
    pending = start_login(info, creds, REDIRECT, None)
    code = await _code(client, info, pending)
    tokens = await exchange_code(client, info, creds, pending, code, REDIRECT)
    assert tokens.token_type == "Bearer" and tokens.scope == "mcp" and tokens.refresh_token
    assert tokens.expires_at and 3500 < tokens.expires_at - time.time() <= 3600
    assert await _add(server, tokens.access_token) == {"result": 5}


async def test_preregistered_client_picks_the_authentication_the_server_offers(
        server: str, client: httpx.AsyncClient) -> None:
    info = await discover(client, f"{server}/mcp")
    assert preregistered_client(info, "id", "secret").token_endpoint_auth_method == \
        "client_secret_basic"
    assert preregistered_client(info, "id", None).token_endpoint_auth_method == "none"
    post_only = dataclasses.replace(info, token_endpoint_auth_methods=("client_secret_post",))
    assert preregistered_client(post_only, "id", "s").token_endpoint_auth_method == \
        "client_secret_post"


async def test_the_token_expires_and_refresh_brings_a_new_one(client: httpx.AsyncClient) -> None:
    with serving("oauth_server", "--token-secs", "2") as server:
        info, creds, tokens = await _login(client, server)
        assert await _add(server, tokens.access_token) == {"result": 5}
        assert tokens.expires_at and tokens.expires_at - time.time() <= 2
        await anyio.sleep(max(0.0, tokens.expires_at - time.time()) + 0.05)
        assert needs_refresh(tokens, time.time(), margin_secs=0)
        assert await _mcp_status(client, server, tokens.access_token) == 401
        assert tokens.refresh_token
        renewed = await refresh(client, info, creds, tokens.refresh_token)
        assert renewed.access_token != tokens.access_token
        assert renewed.refresh_token and renewed.refresh_token != tokens.refresh_token
        assert not needs_refresh(renewed, time.time(), margin_secs=0)
        assert await _add(server, renewed.access_token) == {"result": 5}
        # The server rotated the refresh token: the old one is refused, as a revoked one is.
        with pytest.raises(McpAuthError) as caught:
            await refresh(client, info, creds, tokens.refresh_token)
    error = caught.value
    assert error.code == "mcp_oauth_refresh_failed" and error.oauth_error == "invalid_grant"
    assert error.status == 502 and server in error.message
    _assert_no_secrets(error, tokens.refresh_token, creds.client_secret)


async def test_a_wrong_code_verifier_is_refused(server: str, client: httpx.AsyncClient) -> None:
    info = await discover(client, f"{server}/mcp")
    creds = await register_client(client, info, REDIRECT, "Bodhi test")
    pending = start_login(info, creds, REDIRECT, None)
    code = await _code(client, info, pending)
    forged = dataclasses.replace(pending, code_verifier=start_login(
        info, creds, REDIRECT, None).code_verifier)
    with pytest.raises(McpAuthError) as caught:
        await exchange_code(client, info, creds, forged, code, REDIRECT)
    error = caught.value
    assert error.code == "mcp_oauth_exchange_failed" and error.oauth_error == "invalid_grant"
    assert "code_verifier" in error.message and server in error.message
    _assert_no_secrets(error, code, pending.code_verifier, forged.code_verifier,
                       creds.client_secret)
    # The refusal was the verifier's: the right one still gets the tokens, once.
    await exchange_code(client, info, creds, pending, code, REDIRECT)
    with pytest.raises(McpAuthError) as again:
        await exchange_code(client, info, creds, pending, code, REDIRECT)
    assert again.value.oauth_error == "invalid_grant"


async def test_plain_pkce_is_refused(server: str, client: httpx.AsyncClient) -> None:
    info = await discover(client, f"{server}/mcp")
    creds = await register_client(client, info, REDIRECT, "Bodhi test")
    pending = start_login(info, creds, REDIRECT, None)
    plain = httpx.URL(pending.authorize_url).copy_merge_params(
        {"code_challenge": pending.code_verifier, "code_challenge_method": "plain"})
    reply = await _authorize(client, str(plain))
    assert "code=" not in reply.headers.get("location", "")
    assert reply.status_code == 302 and "error=invalid_request" in reply.headers["location"]


async def test_an_unregistered_redirect_uri_is_refused(server: str,
                                                       client: httpx.AsyncClient) -> None:
    info = await discover(client, f"{server}/mcp")
    creds = await register_client(client, info, REDIRECT, "Bodhi test")
    elsewhere = "http://127.0.0.1:9/somewhere-else"
    reply = await _authorize(client, start_login(info, creds, elsewhere, None).authorize_url)
    # Never redirected to an unregistered URI, not even with an error.
    assert reply.status_code == 400 and "location" not in reply.headers
    assert reply.json()["error"] == "invalid_request"
    # And at the token endpoint the redirect URI must be the one the code was issued for.
    pending = start_login(info, creds, REDIRECT, None)
    code = await _code(client, info, pending)
    with pytest.raises(McpAuthError) as caught:
        await exchange_code(client, info, creds, pending, code, elsewhere)
    assert caught.value.oauth_error == "invalid_request"
    assert "redirect_uri" in caught.value.message
    _assert_no_secrets(caught.value, code, pending.code_verifier, creds.client_secret)
    tokens = await exchange_code(client, info, creds, pending, code, REDIRECT)
    assert tokens.access_token


async def test_the_server_requires_the_resource(server: str, client: httpx.AsyncClient) -> None:
    info = await discover(client, f"{server}/mcp")
    creds = await register_client(client, info, REDIRECT, "Bodhi test")
    no_resource = dataclasses.replace(info, resource="")
    pending = start_login(no_resource, creds, REDIRECT, None)
    with pytest.raises(McpAuthError) as caught:
        await _code(client, info, pending)
    assert caught.value.code == "mcp_oauth_denied" and caught.value.oauth_error == \
        "invalid_target"
    pending = start_login(info, creds, REDIRECT, None)
    code = await _code(client, info, pending)
    with pytest.raises(McpAuthError) as refused:
        await exchange_code(client, no_resource, creds, pending, code, REDIRECT)
    assert refused.value.oauth_error == "invalid_target"


async def test_a_wrong_client_secret_is_refused_without_showing_it(
        server: str, client: httpx.AsyncClient) -> None:
    info = await discover(client, f"{server}/mcp")
    methods: tuple[TokenAuthMethod, ...] = ("client_secret_basic", "client_secret_post")
    for method in methods:
        creds = await _manual_client(client, info, method)
        pending = start_login(info, creds, REDIRECT, None)
        code = await _code(client, info, pending)
        wrong = dataclasses.replace(creds, client_secret="not-the-secret-" + "x" * 20)
        with pytest.raises(McpAuthError) as caught:
            await exchange_code(client, info, wrong, pending, code, REDIRECT)
        assert caught.value.oauth_error == "invalid_client"
        _assert_no_secrets(caught.value, wrong.client_secret, creds.client_secret, code,
                           pending.code_verifier)


async def test_the_callback_must_bring_back_the_state(server: str,
                                                      client: httpx.AsyncClient) -> None:
    info = await discover(client, f"{server}/mcp")
    creds = await register_client(client, info, REDIRECT, "Bodhi test")
    pending = start_login(info, creds, REDIRECT, None)
    other = start_login(info, creds, REDIRECT, None)
    reply = await _authorize(client, pending.authorize_url)
    params = dict(httpx.URL(reply.headers["location"]).params)
    with pytest.raises(McpAuthError) as caught:
        read_callback(params, other.state, info)
    assert caught.value.code == "mcp_oauth_state_mismatch" and caught.value.status == 400
    _assert_no_secrets(caught.value, params["code"])
    assert read_callback(params, pending.state, info) == params["code"]
