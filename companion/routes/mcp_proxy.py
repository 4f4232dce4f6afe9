"""The MCP proxy over HTTP: Streamable HTTP relayed for users and for apps, the apps' list of
granted instances, and the apps' direct calls (``window.bodhi.mcp``).

A reply streams back as it arrives. A failure before the upstream answered is a 502 in the
Bodhi envelope; once a stream has begun it can only end with a JSON-RPC error event for each
request still waiting. A client that leaves cancels the handler (the server runs with handler
cancellation), which closes the upstream request.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from companion.auth.principal import PrincipalKind, Role
from companion.core.errors import PayloadTooLargeError, UpstreamError
from companion.core.schema import Schema
from companion.mcp.proxy import McpReply, McpRequest, failure_event
from companion.middleware.access import requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.body_limit import body_limit
from companion.middleware.docs import documented
from companion.routes.bodies import read_json
from companion.routes.keys import MCPS

MCP_BODY_BYTES = 10 * 1024 * 1024
USERS = {PrincipalKind.SESSION, PrincipalKind.API_TOKEN}


class CallBody(Schema):
    method: str = Field(max_length=100)
    params: dict[str, Any] | None = None


async def _read_body(request: web.Request) -> bytes:
    if request.method != "POST":
        return b""
    body = await request.read()
    if len(body) > MCP_BODY_BYTES:
        raise PayloadTooLargeError(f"An MCP message may be at most {MCP_BODY_BYTES} bytes.")
    return body


async def _proxy(request: web.Request) -> web.StreamResponse:
    message = McpRequest(request.method, request.headers, await _read_body(request))
    mcps = request.app[MCPS]
    async with mcps.proxy.forward(request[PRINCIPAL], request.match_info["id"],
                                  message) as reply:
        if not reply.is_event_stream:
            whole = b"".join([chunk async for chunk in reply.chunks()])
            return web.Response(status=reply.status, body=whole, headers=reply.headers)
        return await _stream(request, reply)


async def _stream(request: web.Request, reply: McpReply) -> web.StreamResponse:
    response = web.StreamResponse(status=reply.status,
                                  headers={**reply.headers, "Cache-Control": "no-store"})
    await response.prepare(request)
    try:
        async for chunk in reply.chunks():
            if chunk:
                await response.write(chunk)
    except UpstreamError as exc:
        await response.write(failure_event(reply, exc))
    except ConnectionResetError:
        return response
    await response.write_eof()
    return response


@requires(Role.USER, kinds=USERS)
@body_limit(MCP_BODY_BYTES)
@documented("MCP Streamable HTTP to one of your instances (JSON-RPC)", stream="text/event-stream",
            response={}, errors=(400, 502, 503))
async def user_proxy(request: web.Request) -> web.StreamResponse:
    return await _proxy(request)


@requires(Role.USER, kinds={PrincipalKind.APP_TOKEN}, app_scope="mcp")
@body_limit(MCP_BODY_BYTES)
@documented("MCP Streamable HTTP for an app (JSON-RPC)", stream="text/event-stream", response={},
            errors=(400, 502, 503))
async def app_proxy(request: web.Request) -> web.StreamResponse:
    return await _proxy(request)


@requires(Role.USER, kinds={PrincipalKind.APP_TOKEN, PrincipalKind.API_TOKEN}, app_scope="mcp")
@documented("The MCP instances granted to this app")
async def granted(request: web.Request) -> web.Response:
    instances = await request.app[MCPS].instances.granted(request[PRINCIPAL])
    return web.json_response({"data": [
        {"id": i.id, "name": i.name, "slug": i.slug,
         "server": {"name": i.server.name, "kind": i.server.kind, "url": i.server.url},
         "mcp_path": f"/bodhi/v1/apps/mcps/{i.id}/mcp"} for i in instances]})


@requires(Role.USER, kinds={PrincipalKind.APP_TOKEN}, app_scope="mcp")
@body_limit(MCP_BODY_BYTES)
@documented("Call an MCP method on a granted instance", body=CallBody, errors=(502, 503))
async def call(request: web.Request) -> web.Response:
    body = CallBody.model_validate(await read_json(request, CallBody))
    result = await request.app[MCPS].calls.call(request[PRINCIPAL], request.match_info["id"],
                                                body.method, body.params)
    return web.json_response({"result": result})


def setup(app: web.Application) -> None:
    for path, handler in (("/bodhi/v1/mcps/{id}/mcp", user_proxy),
                          ("/bodhi/v1/apps/mcps/{id}/mcp", app_proxy)):
        app.router.add_post(path, handler)
        app.router.add_get(path, handler)
        app.router.add_delete(path, handler)
    app.router.add_get("/bodhi/v1/apps/mcps", granted)
    app.router.add_post("/bodhi/v1/apps/mcps/{id}/call", call)
