"""MCP registry and instances: servers (read by signed-in users, written by admins) and each
user's own instances with their credentials and tool allow-list (browser session only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from companion.auth.principal import Principal, Role
from companion.core.errors import ForbiddenError
from companion.core.events import MCP_CHANGED
from companion.core.schema import Schema
from companion.mcp.instances import InstanceBody
from companion.mcp.servers import ServerBody
from companion.middleware.access import requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.body_limit import small_body
from companion.middleware.docs import documented
from companion.routes.bodies import read_json
from companion.routes.keys import APPS, MCPS
from companion.routes.replies import Items, McpInstanceOut, McpServerOut, shaped


class AllowedTools(Schema):
    allowed_tools: list[str] | None


def _user(principal: Principal) -> str:
    if principal.user_id is None:
        raise ForbiddenError("This needs a signed-in user.", code="auth_error-insufficient_role")
    return principal.user_id


def changed(request: web.Request, what: str, item_id: str, action: str,
            user_id: str | None = None) -> None:
    """Tell open pages (the web UI's MCP page) that a server or an instance changed. A server
    belongs to everyone (``user_id`` None); an instance only to its user."""
    request.app[APPS].bus.publish(MCP_CHANGED, {"what": what, "id": item_id, "action": action},
                                  user_id=user_id)


def _server(server: Any) -> dict[str, Any]:
    return shaped(McpServerOut, server.to_json())


def _instance(instance: Any) -> dict[str, Any]:
    return shaped(McpInstanceOut, instance.to_json())


@requires(Role.USER, session_only=True)
@documented("MCP servers (registry)", response=Items[McpServerOut])
async def list_servers(request: web.Request) -> web.Response:
    return web.json_response({"data": [_server(s) for s in await request.app[MCPS].servers.all()]})


@requires(Role.USER, session_only=True)
@documented("One MCP server", response=McpServerOut)
async def get_server(request: web.Request) -> web.Response:
    server = await request.app[MCPS].servers.get(request.match_info["id"])
    return web.json_response(_server(server))


@requires(Role.ADMIN, session_only=True)
@small_body
@documented("Add an MCP server", body=ServerBody, response=McpServerOut, status=201,
            errors=(409,))
async def create_server(request: web.Request) -> web.Response:
    body = ServerBody.model_validate(await read_json(request, ServerBody))
    server = await request.app[MCPS].servers.create(body)
    changed(request, "server", server.id, "created")
    return web.json_response(_server(server), status=201)


@requires(Role.ADMIN, session_only=True)
@small_body
@documented("Change an MCP server", body=ServerBody, response=McpServerOut, errors=(409,))
async def update_server(request: web.Request) -> web.Response:
    body = ServerBody.model_validate(await read_json(request, ServerBody))
    server = await request.app[MCPS].servers.update(request.match_info["id"], body)
    changed(request, "server", server.id, "updated")
    return web.json_response(_server(server))


@requires(Role.ADMIN, session_only=True)
@documented("Delete an MCP server", status=204, media=None, errors=(409,))
async def delete_server(request: web.Request) -> web.Response:
    await request.app[MCPS].servers.delete(request.match_info["id"])
    changed(request, "server", request.match_info["id"], "deleted")
    return web.Response(status=204)


@requires(Role.USER, session_only=True)
@documented("Your MCP instances", response=Items[McpInstanceOut])
async def list_instances(request: web.Request) -> web.Response:
    mine = await request.app[MCPS].instances.of_user(_user(request[PRINCIPAL]))
    return web.json_response({"data": [_instance(i) for i in mine]})


@requires(Role.USER, session_only=True)
@documented("One of your MCP instances", response=McpInstanceOut)
async def get_instance(request: web.Request) -> web.Response:
    instance = await request.app[MCPS].instances.get_own(_user(request[PRINCIPAL]),
                                                         request.match_info["id"])
    return web.json_response(_instance(instance))


@requires(Role.USER, session_only=True)
@small_body
@documented("Connect an MCP server (an instance)", body=InstanceBody,
            response=McpInstanceOut, status=201, errors=(404, 409))
async def create_instance(request: web.Request) -> web.Response:
    body = InstanceBody.model_validate(await read_json(request, InstanceBody))
    instance = await request.app[MCPS].instances.create(_user(request[PRINCIPAL]), body)
    changed(request, "instance", instance.id, "created", instance.user_id)
    return web.json_response(_instance(instance), status=201)


@requires(Role.USER, session_only=True)
@small_body
@documented("Change one of your MCP instances", body=InstanceBody,
            response=McpInstanceOut, errors=(409,))
async def update_instance(request: web.Request) -> web.Response:
    body = InstanceBody.model_validate(await read_json(request, InstanceBody))
    instance = await request.app[MCPS].instances.update(_user(request[PRINCIPAL]),
                                                        request.match_info["id"], body)
    changed(request, "instance", instance.id, "updated", instance.user_id)
    return web.json_response(_instance(instance))


@requires(Role.USER, session_only=True)
@documented("Delete one of your MCP instances", status=204, media=None)
async def delete_instance(request: web.Request) -> web.Response:
    user = _user(request[PRINCIPAL])
    await request.app[MCPS].instances.delete(user, request.match_info["id"])
    changed(request, "instance", request.match_info["id"], "deleted", user)
    return web.Response(status=204)


def _tools_json(instance: Any, tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    allowed = instance.allowed_tools
    return {"tools": [{**t, "allowed": allowed is None or t.get("name") in allowed}
                      for t in tools or []],
            "fetched_at": instance.tools_fetched_at,
            "allowed_tools": None if allowed is None else sorted(allowed)}


@requires(Role.USER, session_only=True)
@documented("An instance's tools and which are allowed", errors=(502, 503))
async def get_tools(request: web.Request) -> web.Response:
    """The server's tools as last fetched; fetched now when never fetched or ``?refresh=1``."""
    mcps, user = request.app[MCPS], _user(request[PRINCIPAL])
    instance = await mcps.instances.usable(request[PRINCIPAL], request.match_info["id"])
    tools = instance.tools
    if tools is None or request.query.get("refresh") in ("1", "true"):
        tools = await mcps.calls.fetch_tools(instance)
        instance = await mcps.instances.get_own(user, instance.id)
    return web.json_response(_tools_json(instance, tools))


@requires(Role.USER, session_only=True)
@small_body
@documented("Choose an instance's allowed tools", body=AllowedTools)
async def set_tools(request: web.Request) -> web.Response:
    body = AllowedTools.model_validate(await read_json(request, AllowedTools))
    instance = await request.app[MCPS].instances.set_allowed_tools(
        _user(request[PRINCIPAL]), request.match_info["id"], body.allowed_tools)
    changed(request, "instance", instance.id, "updated", instance.user_id)
    return web.json_response(_tools_json(instance, instance.tools))


def setup(app: web.Application) -> None:
    app.router.add_get("/bodhi/v1/mcps/servers", list_servers)
    app.router.add_post("/bodhi/v1/mcps/servers", create_server)
    app.router.add_get("/bodhi/v1/mcps/servers/{id}", get_server)
    app.router.add_put("/bodhi/v1/mcps/servers/{id}", update_server)
    app.router.add_delete("/bodhi/v1/mcps/servers/{id}", delete_server)
    app.router.add_get("/bodhi/v1/mcps", list_instances)
    app.router.add_post("/bodhi/v1/mcps", create_instance)
    app.router.add_get("/bodhi/v1/mcps/{id}", get_instance)
    app.router.add_put("/bodhi/v1/mcps/{id}", update_instance)
    app.router.add_delete("/bodhi/v1/mcps/{id}", delete_instance)
    app.router.add_get("/bodhi/v1/mcps/{id}/tools", get_tools)
    app.router.add_put("/bodhi/v1/mcps/{id}/tools", set_tools)
