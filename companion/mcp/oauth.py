"""OAuth connections of MCP instances: login, callback, and access tokens kept fresh.

The server's authorization server is discovered once (RFC 9728, RFC 8414) and remembered with
the client the companion uses there: the admin's pre-registered one, or one it registers
itself (RFC 7591), shared by every user. A login in progress lives here for ten minutes,
bound to the user and instance that started it; the browser holds its state in a cookie.
Tokens are sealed with the instance's credentials and refreshed shortly before they expire,
one refresh per instance at a time; a refused refresh marks the instance ``needs_login``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from companion.core.errors import BadRequestError, ConflictError, McpAuthError
from companion.mcp import oauth_flow
from companion.mcp.instances import McpInstance, McpInstanceService
from companion.mcp.oauth_flow import AuthServerInfo, ClientCredentials, TokenSet
from companion.mcp.servers import McpServer, McpServerService

if TYPE_CHECKING:
    import httpx

PENDING_SECS = 600
CLIENT_NAME = "Bodhi companion"


@dataclass(frozen=True)
class _Pending:
    user_id: str
    instance_id: str
    login: oauth_flow.PendingLogin
    info: AuthServerInfo
    client: ClientCredentials
    redirect_uri: str
    started: float


class McpOAuth:
    def __init__(self, servers: McpServerService, instances: McpInstanceService,
                 http: Callable[[], httpx.AsyncClient]) -> None:
        self._servers = servers
        self._instances = instances
        self._http = http
        self._pending: dict[str, _Pending] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def start(self, user_id: str, instance_id: str, redirect_uri: str
                    ) -> oauth_flow.PendingLogin:
        """Where to send the user's browser; its ``state`` must come back to ``finish``."""
        instance = await self._instances.get_own(user_id, instance_id)
        if instance.server.auth.type != "oauth":
            raise BadRequestError(f"The MCP server '{instance.server.name}' does not use "
                                  "OAuth.", code="mcp_not_oauth")
        info, client = await self._client(instance.server, redirect_uri)
        login = oauth_flow.start_login(info, client, redirect_uri, instance.server.auth.scopes)
        self._forget_stale()
        self._pending[login.state] = _Pending(user_id, instance_id, login, info, client,
                                              redirect_uri, time.monotonic())
        return login

    async def finish(self, params: Mapping[str, str], browser_state: str) -> McpInstance:
        """The callback: check the state against the browser's, exchange the code, keep the
        tokens. Returns the connected instance."""
        pending = self._pending.pop(browser_state, None)
        if pending is None or time.monotonic() - pending.started > PENDING_SECS:
            raise BadRequestError("This MCP login is unknown or expired; start it again.",
                                  code="mcp_oauth_state_mismatch")
        code = oauth_flow.read_callback(params, browser_state, pending.info)
        tokens = await oauth_flow.exchange_code(self._http(), pending.info, pending.client,
                                                pending.login, code, pending.redirect_uri)
        await self._save(pending.instance_id, tokens, None)
        return await self._instances.get_own(pending.user_id, pending.instance_id)

    async def access_token(self, instance: McpInstance) -> str:
        """A usable access token, refreshed first when it is about to expire."""
        lock = self._locks.setdefault(instance.id, asyncio.Lock())
        async with lock:
            tokens = await self._tokens(instance)
            if oauth_flow.needs_refresh(tokens, time.time()):
                tokens = await self._refresh(instance, tokens)
            return tokens.access_token

    async def _tokens(self, instance: McpInstance) -> TokenSet:
        saved = self._instances.secrets(await self._instances.record(instance.id)).get("oauth")
        if not saved:
            raise ConflictError(f"The MCP instance '{instance.slug}' is not connected yet; log "
                                f"in with POST /bodhi/v1/mcps/{instance.id}/oauth/login.",
                                code="mcp_needs_login")
        return TokenSet(**saved)

    async def _refresh(self, instance: McpInstance, tokens: TokenSet) -> TokenSet:
        record = await self._servers.record(instance.server.id)
        stored = json.loads(record.oauth_client or "{}")
        if tokens.refresh_token is None or "info" not in stored:
            return await self._needs_login(instance, "the access token expired and there is "
                                                     "no refresh token")
        info = AuthServerInfo.from_dict(stored["info"])
        client = self._credentials(stored, self._servers.client_secret(record))
        try:
            fresh = await oauth_flow.refresh(self._http(), info, client, tokens.refresh_token)
        except McpAuthError as exc:
            if exc.oauth_error is None:
                raise  # unreachable: try again later, the login may still be good
            return await self._needs_login(instance, exc.message)
        await self._save(instance.id, fresh, None)
        return fresh

    async def _needs_login(self, instance: McpInstance, reason: str) -> TokenSet:
        await self._instances.save_secrets(instance.id, {}, auth_status="needs_login",
                                           auth_error=reason)
        raise ConflictError(f"The MCP instance '{instance.slug}' needs a new login: {reason}.",
                            code="mcp_needs_login")

    async def _save(self, instance_id: str, tokens: TokenSet, error: str | None) -> None:
        await self._instances.save_secrets(instance_id, {"oauth": dataclasses.asdict(tokens)},
                                           auth_status="ready", auth_error=error)

    async def _client(self, server: McpServer, redirect_uri: str
                      ) -> tuple[AuthServerInfo, ClientCredentials]:
        """The discovered server and our client there, registering one the first time."""
        assert server.url is not None
        record = await self._servers.record(server.id)
        stored: dict[str, Any] = json.loads(record.oauth_client or "{}")
        info = AuthServerInfo.from_dict(stored["info"]) if "info" in stored \
            else await oauth_flow.discover(self._http(), server.url)
        if server.auth.client_id:
            client = oauth_flow.preregistered_client(info, server.auth.client_id,
                                                     self._servers.client_secret(record))
        elif stored.get("client_id") and stored.get("redirect_uri") == redirect_uri:
            client = self._credentials(stored, self._servers.client_secret(record))
        else:
            client = await oauth_flow.register_client(self._http(), info, redirect_uri,
                                                      CLIENT_NAME)
        await self._servers.save_oauth_client(server.id, {
            "info": dataclasses.asdict(info), "client_id": client.client_id,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "redirect_uri": redirect_uri}, client.client_secret)
        return info, client

    @staticmethod
    def _credentials(stored: dict[str, Any], secret: str | None) -> ClientCredentials:
        return ClientCredentials(stored["client_id"], secret,
                                 stored["token_endpoint_auth_method"])

    def _forget_stale(self) -> None:
        now = time.monotonic()
        for state in [s for s, p in self._pending.items() if now - p.started > PENDING_SECS]:
            del self._pending[state]
