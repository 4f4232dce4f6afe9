"""API token management for signed-in users (browser session only): each user sees and
changes only their own tokens. A new token is shown once, with ``Cache-Control: no-store``."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from companion.auth.principal import Principal, Role
from companion.auth.tokens import MAX_NAME, ApiToken, TokenScope
from companion.core.errors import ForbiddenError
from companion.core.schema import Schema
from companion.middleware.access import requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.body_limit import small_body
from companion.middleware.docs import PAGING, documented
from companion.routes.bodies import read_json
from companion.routes.keys import TOKENS
from companion.routes.paging import page_of, paginated
from companion.routes.replies import NewToken, Page, TokenOut, shaped


class CreateToken(Schema):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    scope: TokenScope = TokenScope.USER
    # null or absent: every model; a list: only these.
    models: list[str] | None = None
    expires_in: int | None = Field(default=None, gt=0)
    # The MCP instances it may use: "all" of the user's, some ids, or none (absent).
    mcps: Literal["all"] | list[str] | None = None


class UpdateToken(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    status: Literal["active", "inactive"] | None = None


def token_json(token: ApiToken) -> dict[str, Any]:
    return shaped(TokenOut, {
        "id": token.id, "name": token.name, "scopes": " ".join(sorted(token.scopes)),
        "status": "active" if token.active else "inactive",
        "models": None if token.models is None else sorted(token.models),
        "mcps": "all" if token.mcps is None else sorted(token.mcps),
        "expires_at": token.expires_at, "created_at": token.created_at,
        "updated_at": token.updated_at, "last_used_at": token.last_used_at})


def _owner(principal: Principal) -> tuple[str, Role]:
    if principal.user_id is None or principal.role is None:
        raise ForbiddenError("This needs a signed-in user with a role.",
                             code="auth_error-insufficient_role")
    return principal.user_id, principal.role


@requires(Role.USER, session_only=True)
@small_body
@documented("Create an API token (shown once)", body=CreateToken, response=NewToken, status=201)
async def create_token(request: web.Request) -> web.Response:
    body = CreateToken.model_validate(await read_json(request, CreateToken))
    user_id, role = _owner(request[PRINCIPAL])
    token, raw = await request.app[TOKENS].create(
        body.name, body.scope, user_id=user_id, creator_role=role, models=body.models,
        expires_in=body.expires_in, mcps=body.mcps)
    return web.json_response(shaped(NewToken, {**token_json(token), "token": raw}), status=201,
                             headers={"Cache-Control": "no-store"})


@requires(Role.USER, session_only=True)
@documented("Your API tokens", response=Page[TokenOut], query=PAGING)
async def list_tokens(request: web.Request) -> web.Response:
    page = page_of(request)
    user_id, _ = _owner(request[PRINCIPAL])
    tokens, total = await request.app[TOKENS].list_for_user(user_id, page.limit, page.offset)
    return paginated([token_json(t) for t in tokens], total, page)


@requires(Role.USER, session_only=True)
@documented("One of your API tokens", response=TokenOut)
async def get_token(request: web.Request) -> web.Response:
    user_id, _ = _owner(request[PRINCIPAL])
    token = await request.app[TOKENS].get_own(request.match_info["id"], user_id)
    return web.json_response(token_json(token))


@requires(Role.USER, session_only=True)
@small_body
@documented("Rename or (de)activate one of your API tokens", body=UpdateToken, response=TokenOut)
async def update_token(request: web.Request) -> web.Response:
    body = UpdateToken.model_validate(await read_json(request, UpdateToken))
    user_id, _ = _owner(request[PRINCIPAL])
    token = await request.app[TOKENS].update(
        request.match_info["id"], user_id, name=body.name,
        active=None if body.status is None else body.status == "active")
    return web.json_response(token_json(token))


@requires(Role.USER, session_only=True)
@documented("Delete one of your API tokens", status=204, media=None)
async def delete_token(request: web.Request) -> web.Response:
    user_id, _ = _owner(request[PRINCIPAL])
    await request.app[TOKENS].delete(request.match_info["id"], user_id)
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_post("/bodhi/v1/tokens", create_token)
    app.router.add_get("/bodhi/v1/tokens", list_tokens)
    app.router.add_get("/bodhi/v1/tokens/{id}", get_token)
    app.router.add_put("/bodhi/v1/tokens/{id}", update_token)
    app.router.add_delete("/bodhi/v1/tokens/{id}", delete_token)
