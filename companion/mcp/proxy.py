"""The Streamable HTTP proxy: one client request to an instance's server, one reply back.

Every request is checked again (``McpInstanceService.usable``), so a revoked grant or a
disabled instance or server is refused on the very next message of a running MCP session.
POST bodies are read for the allow-list: a ``tools/call`` of another tool is answered here
with a JSON-RPC error, and ``tools/list`` replies are filtered. Replies stream through chunk
by chunk; there is a connect timeout but no read timeout, since an MCP stream may stay open.
Only the protocol's own headers cross in either direction: never the caller's credential,
never the server's ``WWW-Authenticate``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from companion.auth.principal import Principal
from companion.core.errors import McpServerError, UpstreamError
from companion.mcp import messages
from companion.mcp.instances import McpInstance, McpInstanceService
from companion.mcp.upstream import McpUpstreams

if TYPE_CHECKING:
    import httpx  # loaded with the first MCP request, not at start

log = logging.getLogger(__name__)

REQUEST_HEADERS = ("content-type", "accept", "mcp-session-id", "mcp-protocol-version",
                   "last-event-id")
REPLY_HEADERS = ("content-type", "mcp-session-id", "mcp-protocol-version")
CONNECT_TIMEOUT_SECS = 10.0


@dataclass(frozen=True)
class McpRequest:
    method: str                      # POST, GET or DELETE
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass
class McpReply:
    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes] | None = None
    whole: bytes = b""
    # The JSON-RPC request ids a failure mid-stream must answer.
    pending_ids: tuple[str | int, ...] = field(default_factory=tuple)
    server: str = ""

    @property
    def is_event_stream(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.body is None:
            yield self.whole
            return
        async for chunk in self.body:
            yield chunk


def upstream_failure(server: str, exc: Exception) -> UpstreamError:
    return UpstreamError(f"The MCP server '{server}' failed: {type(exc).__name__}.",
                         code="mcp_upstream_error")


def failure_event(reply: McpReply, error: UpstreamError) -> bytes:
    """A JSON-RPC error for each request still waiting, as one server-sent event each."""
    events = []
    for request_id in reply.pending_ids or (None,):
        message = {"jsonrpc": "2.0", "id": request_id,
                   "error": {"code": -32603, "message": error.message}}
        events.append(b"event: message\ndata: " + json.dumps(message).encode() + b"\n\n")
    return b"".join(events)


class McpProxy:
    def __init__(self, instances: McpInstanceService, upstreams: McpUpstreams,
                 client: Callable[[], httpx.AsyncClient]) -> None:
        self._instances = instances
        self._upstreams = upstreams
        self._client = client

    @contextlib.asynccontextmanager
    async def forward(self, caller: Principal, instance_id: str, request: McpRequest
                      ) -> AsyncIterator[McpReply]:
        instance = await self._instances.usable(caller, instance_id)
        inspected = messages.Inspected(frozenset())
        pending: tuple[str | int, ...] = ()
        if request.method == "POST":
            message = messages.parse_body(request.body)
            inspected = messages.inspect(message, instance.allowed_tools)
            pending = _request_ids(message)
            if inspected.refused is not None:
                yield McpReply(200, {"content-type": "application/json"},
                               whole=json.dumps(inspected.refused).encode())
                return
        async with self._sent(instance, request) as response:
            yield self._reply(instance, response, inspected, pending)

    @contextlib.asynccontextmanager
    async def _sent(self, instance: McpInstance, request: McpRequest
                    ) -> AsyncIterator[httpx.Response]:
        """The upstream's response. A local server that died since it was last seen ready
        (its bridge refuses connections, or answers 503 while it exits) is started again and
        the request sent once more, as the llama.cpp relay does."""
        import httpx

        # A stream may stay open indefinitely; writes and the pool are bounded.
        timeout = httpx.Timeout(connect=CONNECT_TIMEOUT_SECS, read=None, write=60.0,
                                pool=CONNECT_TIMEOUT_SECS)
        for attempt in (1, 2):
            async with self._upstreams.endpoint(instance) as endpoint:
                headers = {k: v for k, v in request.headers.items()
                           if k.lower() in REQUEST_HEADERS}
                upstream = self._client().build_request(
                    request.method, endpoint.url, headers={**headers, **endpoint.headers},
                    content=request.body if request.method == "POST" else None,
                    timeout=timeout)
                response = await self._send(instance, upstream, retry=attempt == 1)
                if response is None:
                    continue
                try:
                    yield response
                finally:
                    await response.aclose()
                return

    async def _send(self, instance: McpInstance, upstream: httpx.Request, *, retry: bool
                    ) -> httpx.Response | None:
        """The response, or None when the local server exited and a retry may restart it."""
        import httpx

        server = instance.server.name
        try:
            response = await self._client().send(upstream, stream=True)
        except httpx.HTTPError as exc:
            if retry and await self._upstreams.exited(instance):
                return None
            log.warning("MCP server %s unreachable: %s", server, type(exc).__name__)
            raise UpstreamError(f"The MCP server '{server}' could not be reached "
                                f"({type(exc).__name__}).", code="mcp_upstream_unreachable"
                                ) from None
        if response.status_code == 503 and instance.server.kind == "stdio":
            await response.aclose()
            if retry and await self._upstreams.exited(instance):
                return None
            raise McpServerError(f"The MCP server '{server}' exited; try again.")
        if response.status_code in (401, 403):
            await response.aclose()
            raise UpstreamError(
                f"The MCP server '{server}' refused the credentials of the instance "
                f"'{instance.slug}' (HTTP {response.status_code}); update them with "
                f"PUT /bodhi/v1/mcps/{instance.id}" + (" or log in again."
                                                        if instance.server.auth.type == "oauth"
                                                        else "."),
                code="mcp_upstream_auth")
        return response

    def _reply(self, instance: McpInstance, response: httpx.Response,
               inspected: messages.Inspected, pending: tuple[str | int, ...]) -> McpReply:
        headers = {k: v for k, v in response.headers.items() if k.lower() in REPLY_HEADERS}
        body = _relay(response, instance.server.name)
        allowed = instance.allowed_tools
        if inspected.list_ids and allowed is not None:
            body = _filtered(body, headers.get("content-type", ""), inspected.list_ids,
                             allowed)
        return McpReply(response.status_code, headers, body, pending_ids=pending,
                        server=instance.server.name)


def _request_ids(message: Any) -> tuple[str | int, ...]:
    batch = message if isinstance(message, list) else [message]
    return tuple(m["id"] for m in batch if isinstance(m, dict) and "method" in m
                 and isinstance(m.get("id"), str | int))


async def _relay(response: httpx.Response, server: str) -> AsyncIterator[bytes]:
    import httpx

    try:
        async for chunk in response.aiter_bytes():  # decoded: no Content-Encoding goes back
            yield chunk
    except httpx.HTTPError as exc:
        raise upstream_failure(server, exc) from None


async def _filtered(body: AsyncIterator[bytes], content_type: str,
                    list_ids: frozenset[str | int], allowed: frozenset[str]
                    ) -> AsyncIterator[bytes]:
    def rewrite(message: Any) -> Any:
        return messages.filter_tools(message, list_ids, allowed)

    if content_type.startswith("text/event-stream"):
        sse = messages.SseRewriter(rewrite)
        async for chunk in body:
            yield sse.feed(chunk)
        yield sse.flush()
        return
    whole = b"".join([chunk async for chunk in body])
    try:
        yield json.dumps(rewrite(json.loads(whole))).encode()
    except (UnicodeDecodeError, json.JSONDecodeError):
        yield whole
