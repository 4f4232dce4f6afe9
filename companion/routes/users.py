"""User management for managers and admins (browser session only): users' requests for a
role (``/access-requests``) and users. An app asking for access is a different thing with its
own paths (``/apps/access-requests``, routes/apps.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from companion.auth.principal import Role
from companion.core.schema import Schema
from companion.middleware.access import requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.docs import PAGING, documented
from companion.routes.bodies import read_json
from companion.routes.identity import request_json
from companion.routes.keys import IDENTITY
from companion.routes.paging import page_of, paginated
from companion.routes.replies import Page, RoleRequestOut, UserOut, shaped
from companion.storage import UserRecord


class RoleRequest(Schema):
    role: Role


def _user_json(record: UserRecord) -> dict[str, Any]:
    return shaped(UserOut, {"user_id": record.id, "username": record.username,
                            "email": record.email, "role": record.role,
                            "created_at": record.created_at, "updated_at": record.updated_at})


async def _role(request: web.Request) -> Role:
    return RoleRequest.model_validate(await read_json(request, RoleRequest)).role


async def _list_requests(request: web.Request, pending_only: bool) -> web.Response:
    page = page_of(request)
    records, total = await request.app[IDENTITY].users.list_requests(
        pending_only, page.limit, page.offset)
    return paginated([request_json(r) for r in records], total, page)


@requires(Role.MANAGER, session_only=True)
@documented("Role requests", response=Page[RoleRequestOut], query=PAGING)
async def list_requests(request: web.Request) -> web.Response:
    return await _list_requests(request, pending_only=False)


@requires(Role.MANAGER, session_only=True)
@documented("Pending role requests", response=Page[RoleRequestOut], query=PAGING)
async def list_pending(request: web.Request) -> web.Response:
    return await _list_requests(request, pending_only=True)


@requires(Role.MANAGER, session_only=True)
@documented("Approve a role request with a role", body=RoleRequest, response=RoleRequestOut,
            errors=(409,))
async def approve(request: web.Request) -> web.Response:
    record = await request.app[IDENTITY].users.approve(
        int(request.match_info["id"]), await _role(request), request[PRINCIPAL])
    return web.json_response(request_json(record))


@requires(Role.MANAGER, session_only=True)
@documented("Reject a role request", response=RoleRequestOut, errors=(409,))
async def reject(request: web.Request) -> web.Response:
    record = await request.app[IDENTITY].users.reject(int(request.match_info["id"]),
                                                      request[PRINCIPAL])
    return web.json_response(request_json(record))


@requires(Role.MANAGER, session_only=True)
@documented("Users and their roles", response=Page[UserOut], query=PAGING)
async def list_users(request: web.Request) -> web.Response:
    page = page_of(request)
    records, total = await request.app[IDENTITY].users.list_users(page.limit, page.offset)
    return paginated([_user_json(r) for r in records], total, page)


@requires(Role.MANAGER, session_only=True)
@documented("Change a user's role", body=RoleRequest, response=UserOut)
async def change_role(request: web.Request) -> web.Response:
    record = await request.app[IDENTITY].users.change_role(
        request.match_info["user_id"], await _role(request), request[PRINCIPAL])
    return web.json_response(_user_json(record))


@requires(Role.MANAGER, session_only=True)
@documented("Remove a user", status=204, media=None)
async def remove_user(request: web.Request) -> web.Response:
    await request.app[IDENTITY].users.remove(request.match_info["user_id"], request[PRINCIPAL])
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_get("/bodhi/v1/access-requests", list_requests)
    app.router.add_get("/bodhi/v1/access-requests/pending", list_pending)
    app.router.add_post(r"/bodhi/v1/access-requests/{id:\d+}/approve", approve)
    app.router.add_post(r"/bodhi/v1/access-requests/{id:\d+}/reject", reject)
    app.router.add_get("/bodhi/v1/users", list_users)
    app.router.add_put("/bodhi/v1/users/{user_id}/role", change_role)
    app.router.add_delete("/bodhi/v1/users/{user_id}", remove_user)
