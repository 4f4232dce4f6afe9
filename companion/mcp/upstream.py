"""From an instance to the endpoint that serves it, with the instance's credentials.

A remote server's URL gets the instance's header or query keys, or its OAuth access token
(refreshed first when it is about to expire). A local stdio server is started (or kept
running) by its supervisor for as long as the caller holds the endpoint.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from companion.core.errors import ConflictError
from companion.mcp.endpoint import McpEndpoint
from companion.mcp.instances import McpInstance, McpInstanceService
from companion.mcp.servers import McpServer, McpServerService
from companion.mcp.stdio_process import StdioServers
from companion.mcp.stdio_spec import StdioSpec

# The instance's OAuth bearer token, refreshed when needed (see ``McpOAuth.access_token``).
AccessToken = Callable[[McpInstance], Awaitable[str]]


class McpUpstreams:
    def __init__(self, servers: McpServerService, instances: McpInstanceService,
                 stdio: StdioServers | None = None,
                 access_token: AccessToken | None = None) -> None:
        self._servers = servers
        self._instances = instances
        self.stdio = stdio
        self.access_token = access_token

    @contextlib.asynccontextmanager
    async def endpoint(self, instance: McpInstance) -> AsyncIterator[McpEndpoint]:
        server = instance.server
        if server.kind == "stdio":
            if self.stdio is None:
                raise ConflictError("Local MCP servers are not available.",
                                    code="mcp_stdio_unavailable")
            env = self._servers.command_env(await self._servers.record(server.id))
            assert server.command is not None
            spec = StdioSpec(server.command, server.args, env, server.cwd)
            async with self.stdio.lease(server.id, server.slug, spec) as endpoint:
                yield endpoint
            return
        yield await self._remote(instance, server)

    async def exited(self, instance: McpInstance) -> bool:
        """After a failed send: did the instance's local server exit (start it again)?"""
        server = instance.server
        return server.kind == "stdio" and self.stdio is not None and \
            await self.stdio.confirm_exit(server.id)

    async def _remote(self, instance: McpInstance, server: McpServer) -> McpEndpoint:
        assert server.url is not None
        if server.auth.type == "oauth":
            if self.access_token is None:
                raise ConflictError("OAuth for MCP servers is not available.",
                                    code="mcp_oauth_unavailable")
            token = await self.access_token(instance)
            return McpEndpoint(server.url, {"Authorization": f"Bearer {token}"})
        keys: dict[str, Any] = self._instances.secrets(
            await self._instances.record(instance.id)).get("keys", {})
        missing = [k for k in server.auth.keys if k not in keys]
        if missing:
            raise ConflictError(
                f"The MCP instance '{instance.slug}' has no value for {missing} that the server "
                f"'{server.name}' needs; set it with PUT /bodhi/v1/mcps/{instance.id}.",
                code="mcp_credentials_missing")
        if server.auth.type == "query":
            return McpEndpoint(_with_query(server.url, keys), {})
        return McpEndpoint(server.url, dict(keys) if server.auth.type == "header" else {})


def _with_query(url: str, keys: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *keys.items()]
    return parts._replace(query=urlencode(query)).geturl()
