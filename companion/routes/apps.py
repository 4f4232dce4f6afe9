"""Apps routes: pairing, access requests, consent decisions, app tokens and grants.

Who may call what is declared on each handler: only the paired extension opens access requests
and exchanges them for tokens; the extension or the user's own browser session decides them and
manages grants. An app token or an anonymous page can never create or approve a grant.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field

from companion.access import AccessGrant, GrantTerms
from companion.access.requests import ORIGIN_KIND, NewRequest, Requested, check_origin
from companion.auth.principal import PrincipalKind, Role
from companion.core.errors import BadRequestError
from companion.core.schema import Schema
from companion.middleware.access import public, requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.body_limit import small_body
from companion.middleware.docs import PAGING, documented
from companion.middleware.web_pages import refuse_web_pages
from companion.routes.bodies import read_json
from companion.routes.keys import APPS, INFERENCE, MCPS, SERVER_INFO
from companion.routes.paging import page_of, paginated
from companion.routes.replies import (
    AppActivityPage,
    GrantOut,
    ListedGrant,
    Page,
    shaped,
)

EXTENSION = {PrincipalKind.EXTENSION}
EXTENSION_OR_SESSION = {PrincipalKind.EXTENSION, PrincipalKind.SESSION}

M = TypeVar("M", bound=BaseModel)


class PairBody(Schema):
    code: str = Field(min_length=1, max_length=40)
    extension_id: str = Field("", max_length=200)
    browser: str = Field("", max_length=50)


class RequestedBody(Schema):
    scopes: list[str]
    models: list[str] | None = None
    mcps: list[dict[str, str]] = Field(default_factory=list, max_length=10)

    def value(self) -> Requested:
        return Requested(frozenset(self.scopes),
                         None if self.models is None else frozenset(self.models),
                         tuple(self.mcps))


class RequestAccessBody(Schema):
    origin: str = Field(max_length=300)
    app_name: str | None = Field(None, max_length=500)
    reason: str | None = Field(None, max_length=2000)
    requested: RequestedBody
    interactive: bool = True        # false: answer from a remembered grant or refuse


class ApproveBody(Schema):
    scopes: list[str]
    models: list[str] | None = None
    mcps: list[str] = Field(default_factory=list, max_length=10)   # bound instance ids
    remember: bool = False
    expires_in: int | None = Field(None, ge=60, le=366 * 24 * 3600)

    def terms(self) -> GrantTerms:
        return GrantTerms(frozenset(self.scopes),
                          None if self.models is None else frozenset(self.models),
                          tuple(self.mcps), self.remember, self.expires_in)


class TokenBody(Schema):
    grant_type: Literal["access_request", "refresh_token", "grant"]
    request_id: str | None = None
    refresh_token: str | None = None
    grant_id: str | None = None


async def _body(request: web.Request, schema: type[M]) -> M:
    return schema.model_validate(await read_json(request, schema))


@public
@small_body
@documented("Pair the browser extension with a one-time code", body=PairBody, errors=(429,))
async def pair(request: web.Request) -> web.Response:
    refuse_web_pages(request)   # before the guess is judged: a page must not spend them
    body = await _body(request, PairBody)
    raw = await request.app[APPS].extension.redeem(body.code, body.extension_id, body.browser)
    return web.json_response({"credential": raw}, headers={"Cache-Control": "no-store"})


@requires(Role.USER, kinds=EXTENSION)
@small_body
@documented("An app asks for access (through the extension)", body=RequestAccessBody, status=201)
async def request_access(request: web.Request) -> web.Response:
    body = await _body(request, RequestAccessBody)
    principal = request[PRINCIPAL]
    assert principal.user_id is not None
    opened = await request.app[APPS].requests.ask(principal.user_id, NewRequest(
        check_origin(body.origin), ORIGIN_KIND, body.requested.value(), body.app_name,
        body.reason), body.interactive)
    if isinstance(opened, AccessGrant):
        return web.json_response({"status": "approved", "grant_id": opened.id,
                                  "expires_at": opened.expires_at})
    review = f"{request.app[SERVER_INFO].url}/bodhi/v1/apps/access-requests/{opened.id}/review"
    return web.json_response({"id": opened.id, "status": opened.status, "review_url": review,
                              "expires_at": opened.expires_at}, status=201)


@requires(Role.USER, kinds=EXTENSION_OR_SESSION)
@documented("An app's access request, for review")
async def review(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    found = await request.app[APPS].requests.get(request.match_info["id"], principal)
    models = [m.alias for m in request.app[INFERENCE].list_models(principal)]
    assert principal.user_id is not None
    mcps = await request.app[MCPS].instances.candidates(principal.user_id,
                                                        found.requested.mcps)
    return web.json_response({**found.to_json(), "available_models": models, "mcps": mcps})


@requires(Role.USER, kinds=EXTENSION_OR_SESSION)
@small_body
@documented("Approve an app's access request", body=ApproveBody, errors=(409,))
async def approve(request: web.Request) -> web.Response:
    body = await _body(request, ApproveBody)
    decided, grant = await request.app[APPS].requests.approve(
        request.match_info["id"], request[PRINCIPAL], body.terms())
    return web.json_response({"id": decided.id, "status": decided.status,
                              "grant_id": grant.id})


@requires(Role.USER, kinds=EXTENSION_OR_SESSION)
@small_body
@documented("Deny an app's access request", errors=(409,))
async def deny(request: web.Request) -> web.Response:
    decided = await request.app[APPS].requests.deny(request.match_info["id"],
                                                    request[PRINCIPAL])
    return web.json_response({"id": decided.id, "status": decided.status})


@public
@documented("The state of an app's access request", errors=(400,))
async def request_status(request: web.Request) -> web.Response:
    app_id = request.query.get("app", "")
    if not app_id:
        raise BadRequestError("Say which app is asking with ?app=ORIGIN or client id.",
                              code="invalid_value", param="app")
    found = await request.app[APPS].requests.status_for_app(request.match_info["id"], app_id)
    return web.json_response({"id": found.id, "status": found.status})


@requires(Role.USER, kinds=EXTENSION)
@small_body
@documented("An app token for a grant", body=TokenBody)
async def token(request: web.Request) -> web.Response:
    body = await _body(request, TokenBody)
    apps = request.app[APPS]
    if body.grant_type == "access_request":
        issued = await apps.token_for_request(_need(body.request_id, "request_id"),
                                              request[PRINCIPAL])
    elif body.grant_type == "grant":
        issued = await apps.token_for_grant(_need(body.grant_id, "grant_id"),
                                            request[PRINCIPAL])
    else:
        issued = await apps.tokens.refresh(_need(body.refresh_token, "refresh_token"))
    return web.json_response(issued.to_json(), headers={"Cache-Control": "no-store"})


def _need(value: str | None, param: str) -> str:
    if not value:
        raise BadRequestError(f"'{param}' is required for this grant_type.",
                              code="invalid_value", param=param)
    return value


@requires(Role.USER, kinds=EXTENSION_OR_SESSION)
@documented("Apps granted access", response=Page[ListedGrant], query=PAGING)
async def list_grants(request: web.Request) -> web.Response:
    page = page_of(request)
    user_id = request[PRINCIPAL].user_id
    assert user_id is not None
    grants, total = await request.app[APPS].grants.page(user_id, page.page, page.page_size)
    describe = request.app[MCPS].instances.describe
    return paginated([shaped(ListedGrant, {**g.to_json(),
                                           "mcps": await describe(g.user_id, g.mcps)})
                      for g in grants], total, page)


@requires(Role.USER, kinds=EXTENSION_OR_SESSION)
@small_body
@documented("Revoke an app's grant", response=GrantOut, errors=(409,))
async def revoke_grant(request: web.Request) -> web.Response:
    grant = await request.app[APPS].grants.revoke(request.match_info["id"], request[PRINCIPAL])
    return web.json_response(shaped(GrantOut, grant.to_json()))


@requires(Role.USER, session_only=True)
@documented("What an app did with one of your grants", response=AppActivityPage, query=PAGING)
async def grant_activity(request: web.Request) -> web.Response:
    page = page_of(request)
    found = await request.app[APPS].grant_activity(request.match_info["id"], request[PRINCIPAL],
                                                   page.page, page.page_size)
    return web.json_response(shaped(AppActivityPage, {**found, "page": page.page,
                                                      "page_size": page.page_size}))


def setup(app: web.Application) -> None:
    app.router.add_post("/bodhi/v1/apps/extension/pair", pair)
    app.router.add_post("/bodhi/v1/apps/request-access", request_access)
    app.router.add_get("/bodhi/v1/apps/access-requests/{id}/review", review)
    app.router.add_post("/bodhi/v1/apps/access-requests/{id}/approve", approve)
    app.router.add_post("/bodhi/v1/apps/access-requests/{id}/deny", deny)
    app.router.add_get("/bodhi/v1/apps/access-requests/{id}", request_status)
    app.router.add_post("/bodhi/v1/apps/token", token)
    app.router.add_get("/bodhi/v1/apps/grants", list_grants)
    app.router.add_post("/bodhi/v1/apps/grants/{id}/revoke", revoke_grant)
    app.router.add_get("/bodhi/v1/apps/grants/{id}/activity", grant_activity)
