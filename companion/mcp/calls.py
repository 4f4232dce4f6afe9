"""MCP requests the companion makes itself, with the SDK's client: the tools view, and the
calls a page makes through ``window.bodhi.mcp`` (``POST /bodhi/v1/apps/mcps/{id}/call``).

Each call opens one MCP session to the instance's server (initialize, the request, then the
session is ended), applies the instance's tool allow-list, and returns the result as the
protocol's JSON.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from companion.auth.principal import Principal
from companion.core.errors import BadRequestError, BodhiError, ForbiddenError, UpstreamError
from companion.mcp.endpoint import McpEndpoint
from companion.mcp.instances import McpInstance, McpInstanceService
from companion.mcp.upstream import McpUpstreams

if TYPE_CHECKING:
    # The MCP SDK costs a good part of a second to import: only a call on a server loads it.
    import httpx2
    from mcp import ClientSession

log = logging.getLogger(__name__)


@cache
def calls() -> dict[str, tuple[type[BaseModel], type[BaseModel]]]:
    """The methods a page may call, with the SDK's request and result types."""
    import mcp_types as t

    return {
        "tools/list": (t.ListToolsRequest, t.ListToolsResult),
        "tools/call": (t.CallToolRequest, t.CallToolResult),
        "resources/list": (t.ListResourcesRequest, t.ListResourcesResult),
        "resources/templates/list": (t.ListResourceTemplatesRequest,
                                     t.ListResourceTemplatesResult),
        "resources/read": (t.ReadResourceRequest, t.ReadResourceResult),
        "prompts/list": (t.ListPromptsRequest, t.ListPromptsResult),
        "prompts/get": (t.GetPromptRequest, t.GetPromptResult),
    }


MAX_TOOL_PAGES = 20

HttpClientFactory = Callable[[dict[str, str]], "httpx2.AsyncClient"]
T = TypeVar("T")


class McpCalls:
    def __init__(self, instances: McpInstanceService, upstreams: McpUpstreams,
                 http: HttpClientFactory) -> None:
        self._instances = instances
        self._upstreams = upstreams
        self._http = http

    async def call(self, caller: Principal, instance_id: str, method: str,
                   params: dict[str, Any] | None) -> dict[str, Any]:
        instance = await self._instances.usable(caller, instance_id)
        request = _request(method, params)
        if method == "tools/call":
            name = str((params or {}).get("name"))
            if not instance.allows_tool(name):
                raise ForbiddenError(f"The tool '{name}' is not allowed on the MCP instance "
                                     f"'{instance.slug}'.", code="mcp_tool_not_allowed")
        async def send(session: ClientSession) -> BaseModel:
            return await _send(instance, session, request, calls()[method][1])

        result = await self._in_session(instance, send)
        dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        if method == "tools/list" and instance.allowed_tools is not None:
            dumped["tools"] = [t for t in dumped.get("tools", [])
                               if t.get("name") in instance.allowed_tools]
        return dumped

    async def fetch_tools(self, instance: McpInstance) -> list[dict[str, Any]]:
        """Every tool the server offers (all pages), unfiltered, for the tools view."""
        import mcp_types

        async def pages(session: ClientSession) -> list[dict[str, Any]]:
            tools: list[dict[str, Any]] = []
            cursor: str | None = None
            for _ in range(MAX_TOOL_PAGES):
                params = {"cursor": cursor} if cursor else None
                page = await _send(instance, session, _request("tools/list", params),
                                   mcp_types.ListToolsResult)
                assert isinstance(page, mcp_types.ListToolsResult)
                tools += [t.model_dump(mode="json", by_alias=True, exclude_none=True)
                          for t in page.tools]
                cursor = page.next_cursor
                if not cursor:
                    break
            return tools

        tools = await self._in_session(instance, pages)
        await self._instances.save_tools(instance.id, tools)
        return tools

    async def _in_session(self, instance: McpInstance,
                          work: Callable[[ClientSession], Awaitable[T]]) -> T:
        """``work`` in one MCP session; a local server that died since it was last seen
        ready is started again and the work done once more (as the proxy does)."""
        for attempt in (1, 2):
            try:
                async with self._upstreams.endpoint(instance) as endpoint:
                    try:
                        async with _connected(endpoint, self._http) as session:
                            return await work(session)
                    except BodhiError:
                        raise
                    except Exception as exc:
                        raise _failure(instance, exc) from None
            except UpstreamError as exc:
                answered = exc.code == "mcp_error"  # the server itself said no: no retry
                if answered or attempt == 2 or not await self._upstreams.exited(instance):
                    raise
        raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def _connected(endpoint: McpEndpoint, http: HttpClientFactory
                     ) -> AsyncIterator[ClientSession]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with http(dict(endpoint.headers)) as client, \
            streamable_http_client(endpoint.url, http_client=client) as streams, \
            ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        yield session


def _request(method: str, params: dict[str, Any] | None) -> BaseModel:
    if method not in calls():
        raise BadRequestError(f"Unknown MCP method '{method}'; known: {sorted(calls())}.",
                              code="invalid_mcp_method", param="method")
    try:
        return calls()[method][0].model_validate({"method": method, "params": params})
    except ValidationError as exc:
        raise BadRequestError(f"Bad params for {method}: {exc.errors()[0]['msg']}.",
                              code="invalid_mcp_params", param="params") from None


async def _send(instance: McpInstance, session: ClientSession, request: BaseModel,
                result_type: type[BaseModel]) -> BaseModel:
    from mcp.shared.exceptions import MCPError

    try:
        result: BaseModel = await session.send_request(request, result_type)  # type: ignore[arg-type]
    except MCPError as exc:
        raise UpstreamError(f"The MCP server '{instance.server.name}' answered with an error: "
                            f"{exc.error.message}", code="mcp_error") from None
    return result


def _failure(instance: McpInstance, exc: BaseException) -> BodhiError:
    """A clear error naming the server; never the URL (it may carry a query key)."""
    leaf = exc
    while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
        leaf = leaf.exceptions[0]
    if isinstance(leaf, BodhiError):
        return leaf
    import httpx2

    server = instance.server.name
    if isinstance(leaf, httpx2.HTTPStatusError) and leaf.response.status_code in (401, 403):
        return UpstreamError(f"The MCP server '{server}' refused the credentials of the "
                             f"instance '{instance.slug}' (HTTP {leaf.response.status_code}).",
                             code="mcp_upstream_auth")
    log.warning("MCP server %s: %s", server, type(leaf).__name__)
    return UpstreamError(f"The MCP server '{server}' failed ({type(leaf).__name__}).",
                         code="mcp_upstream_error")
