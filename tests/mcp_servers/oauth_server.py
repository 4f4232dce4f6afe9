"""An OAuth-protected MCP server: the SDK's authorization server and resource server in one.

    python -m tests.mcp_servers.oauth_server --port P [--token-secs N]

At ``http://127.0.0.1:P``: RFC 9728 metadata at ``/.well-known/oauth-protected-resource/mcp``,
RFC 8414 metadata at ``/.well-known/oauth-authorization-server``, dynamic client registration
at ``/register``, ``/authorize`` (approves at once: a redirect straight back with a code, as if
the user had clicked allow), ``/token``, ``/revoke``, and the tools ``echo``, ``add`` and
``whoami`` at ``/mcp`` for bearers of a token with the scope ``mcp``. Without one, or with an
expired one, ``/mcp`` answers 401 with ``WWW-Authenticate: Bearer ... resource_metadata=...``.

The SDK's handlers enforce PKCE S256 (only S256 is accepted, and the verifier must hash to
the challenge), the registered redirect URI (exactly, at ``/authorize``, and the same one
again at ``/token``) and the client's secret. This provider adds: the ``resource`` must name
this server at ``/authorize`` and ``/token`` (RFC 8707, as MCP requires), codes are single
use and live 5 minutes, refresh tokens rotate (the old one is refused), and access tokens
expire after ``--token-secs`` (default 3600).
"""

from __future__ import annotations

import argparse
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from tests.mcp_servers.tools import add, echo, whoami

SCOPE = "mcp"
CODE_SECS = 300


class AutoApprove(OAuthAuthorizationServerProvider[AuthorizationCode, RefreshToken, AccessToken]):
    """Clients, codes and tokens in memory; every authorization request is approved."""

    def __init__(self, issuer: str, resource: str, token_secs: float) -> None:
        self.issuer = issuer
        self.resource = resource
        self.token_secs = token_secs
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, tuple[AccessToken, float]] = {}
        self.refresh: dict[str, RefreshToken] = {}

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull,
                        params: AuthorizationParams) -> str:
        if params.resource != self.resource:
            raise AuthorizeError("invalid_target", f"resource must be {self.resource}")
        code = AuthorizationCode(
            code=secrets.token_urlsafe(32), client_id=client.client_id,
            scopes=params.scopes or (client.scope or SCOPE).split(),
            expires_at=time.time() + CODE_SECS, code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource, subject="test-user")
        self.codes[code.code] = code
        return construct_redirect_uri(str(params.redirect_uri), code=code.code,
                                      state=params.state, iss=self.issuer)

    async def load_authorization_code(self, client: OAuthClientInformationFull,
                                      authorization_code: str) -> AuthorizationCode | None:
        code = self.codes.get(authorization_code)
        return code if code is not None and code.client_id == client.client_id else None

    async def exchange_authorization_code(self, client: OAuthClientInformationFull,
                                          authorization_code: AuthorizationCode) -> OAuthToken:
        del self.codes[authorization_code.code]
        return self._issue(client.client_id, authorization_code.scopes)

    async def load_refresh_token(self, client: OAuthClientInformationFull,
                                 refresh_token: str) -> RefreshToken | None:
        token = self.refresh.get(refresh_token)
        return token if token is not None and token.client_id == client.client_id else None

    async def exchange_refresh_token(self, client: OAuthClientInformationFull,
                                     refresh_token: RefreshToken,
                                     scopes: list[str]) -> OAuthToken:
        del self.refresh[refresh_token.token]
        return self._issue(client.client_id, scopes)

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        # Checked here to the fraction of a second; the SDK's own check is in whole seconds.
        if found is None or found[1] <= time.time():
            return None
        return found[0]

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)

    def _issue(self, client_id: str, scopes: list[str]) -> OAuthToken:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        deadline = time.time() + self.token_secs
        self.access[access] = (AccessToken(token=access, client_id=client_id, scopes=scopes,
                                           expires_at=int(deadline),
                                           resource=self.resource, subject="test-user"),
                               deadline)
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes,
                                             resource=self.resource, subject="test-user")
        return OAuthToken(access_token=access, expires_in=max(1, round(self.token_secs)),
                          scope=" ".join(scopes), refresh_token=refresh)


def _resource_required(app: Any, resource: str) -> Any:
    """Refuse a token request whose ``resource`` is not this server (the SDK does not check)."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/token" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if parse_qs(body.decode()).get("resource") != [resource]:
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body",
                        "body": b'{"error":"invalid_target","error_description":'
                                b'"resource must name this MCP server"}'})
            return

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, replay, send)

    return guarded


def build(port: int, token_secs: float) -> Any:
    base = f"http://127.0.0.1:{port}"
    resource = f"{base}/mcp"
    provider = AutoApprove(base, resource, token_secs)
    server = MCPServer(
        "bodhi-test-oauth", instructions="OAuth-protected tools for the companion's tests.",
        auth_server_provider=provider,
        auth=AuthSettings(
            issuer_url=base, resource_server_url=resource, validate_token_resource=True,
            required_scopes=[SCOPE], revocation_options=RevocationOptions(enabled=True),
            client_registration_options=ClientRegistrationOptions(
                enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE])))
    for tool in (echo, add, whoami):
        server.add_tool(tool)
    return _resource_required(server.streamable_http_app(), resource)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token-secs", type=float, default=3600)
    args = p.parse_args()
    import uvicorn
    uvicorn.run(build(args.port, args.token_secs), host="127.0.0.1", port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
