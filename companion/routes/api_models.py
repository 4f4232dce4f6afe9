"""Remote API models and router aliases (``/bodhi/v1/models/api``, ``/bodhi/v1/models/router``):
power users and up, by browser session or API token. Keys are write-only."""

from __future__ import annotations

from aiohttp import web
from pydantic import ConfigDict, Field, StrictStr

from companion.auth.principal import PrincipalKind, Role
from companion.core.errors import BadRequestError
from companion.core.schema import Schema
from companion.middleware.access import requires
from companion.middleware.body_limit import small_body
from companion.middleware.docs import PAGING, documented
from companion.providers import Provider, RemoteModels
from companion.providers.records import ApiModel, ApiModelBody
from companion.providers.routers import RouterAlias, RouterBody
from companion.routes.bodies import read_json
from companion.routes.keys import REMOTE_MODELS
from companion.routes.paging import page_of, paginated
from companion.routes.replies import ApiModelOut, Page, RouterAliasOut, shaped

MANAGERS = {PrincipalKind.SESSION, PrincipalKind.API_TOKEN}


class TestBody(ApiModelBody):
    """``/test``: a stored record's ``id``, or the record's fields, and a model to try."""

    model_config = ConfigDict(extra="forbid")

    api_format: StrictStr = ""
    base_url: StrictStr = ""
    model: StrictStr = Field(min_length=1, max_length=200)
    prompt: StrictStr | None = Field(default=None, max_length=4000)


class FetchBody(Schema):
    model_config = ConfigDict(extra="forbid")

    id: StrictStr | None = None
    api_format: StrictStr | None = None
    base_url: StrictStr | None = None
    api_key: StrictStr | None = Field(default=None, max_length=4096)
    extra_headers: dict[str, StrictStr] = Field(default_factory=dict)


def _remote(request: web.Request) -> RemoteModels:
    return request.app[REMOTE_MODELS]


def _provider(remote: RemoteModels, record_id: str | None, fields: ApiModelBody | None
              ) -> Provider:
    """A stored record (``id``), the fields alone, or a stored record with unsaved fields
    over it (``id`` and ``base_url``: its stored key is used unless a new one is given)."""
    if record_id:
        if fields is not None and fields.base_url:
            return remote.api.edited(record_id, fields)
        return remote.api.provider(record_id)
    if fields is None or not fields.api_format or not fields.base_url:
        raise BadRequestError("Give a stored record's 'id', or its 'api_format' and "
                              "'base_url' (and 'api_key').", code="invalid_value",
                              param="id")
    return remote.api.transient(fields)


def _api_json(record: ApiModel) -> dict[str, object]:
    return shaped(ApiModelOut, record.to_json())


manager = requires(Role.POWER_USER, kinds=MANAGERS, all_models=True)


@manager
@documented("API models (remote providers)", response=Page[ApiModelOut], query=PAGING)
async def list_api_models(request: web.Request) -> web.Response:
    page = page_of(request)
    found = _remote(request).api.all()
    return paginated([_api_json(m) for m in page.slice(found)], len(found), page)


@manager
@small_body
@documented("Add an API model", body=ApiModelBody, response=ApiModelOut, status=201,
            errors=(409,))
async def create_api_model(request: web.Request) -> web.Response:
    body = ApiModelBody.model_validate(await read_json(request, ApiModelBody))
    return web.json_response(_api_json(await _remote(request).api.create(body)), status=201)


@manager
@documented("One API model", response=ApiModelOut)
async def get_api_model(request: web.Request) -> web.Response:
    return web.json_response(_api_json(_remote(request).api.get(request.match_info["id"])))


@manager
@small_body
@documented("Change an API model", body=ApiModelBody, response=ApiModelOut, errors=(409,))
async def update_api_model(request: web.Request) -> web.Response:
    raw = await read_json(request, ApiModelBody)
    updated = await _remote(request).api.update(request.match_info["id"],
                                                ApiModelBody.model_validate(raw),
                                                key_given="api_key" in raw)
    return web.json_response(_api_json(updated))


@manager
@documented("Delete an API model", status=204, media=None, errors=(409,))
async def delete_api_model(request: web.Request) -> web.Response:
    await _remote(request).api.delete(request.match_info["id"])
    return web.Response(status=204)


@manager
@small_body
@documented("Test a provider with a short prompt", body=TestBody, errors=(404, 502))
async def test_api_model(request: web.Request) -> web.Response:
    body = TestBody.model_validate(await read_json(request, TestBody))
    remote = _remote(request)
    provider = _provider(remote, body.id, body)
    model = body.model
    if body.id:  # an exposed name of the record is accepted too
        found = remote.api.resolve(model)
        model = found[1] if found and found[0].id == body.id else model
    reply = await remote.calls.test(provider, model, body.prompt)
    return web.json_response({"ok": True, "reply": reply})


@manager
@small_body
@documented("The models a provider offers", body=FetchBody, errors=(404, 502))
async def fetch_models(request: web.Request) -> web.Response:
    body = FetchBody.model_validate(await read_json(request, FetchBody))
    remote = _remote(request)
    fields = ApiModelBody(api_format=body.api_format or "", base_url=body.base_url or "",
                          api_key=body.api_key, extra_headers=body.extra_headers)
    models = await remote.calls.fetch_models(_provider(remote, body.id, fields))
    return web.json_response({"models": models})


def _router_json(router: RouterAlias) -> dict[str, object]:
    return shaped(RouterAliasOut, router.to_json())


@manager
@documented("Router aliases", response=Page[RouterAliasOut], query=PAGING)
async def list_routers(request: web.Request) -> web.Response:
    page = page_of(request)
    found = _remote(request).routers.all()
    return paginated([_router_json(r) for r in page.slice(found)], len(found), page)


@manager
@small_body
@documented("Add a router alias", body=RouterBody, response=RouterAliasOut, status=201,
            errors=(409,))
async def create_router(request: web.Request) -> web.Response:
    body = RouterBody.model_validate(await read_json(request, RouterBody))
    return web.json_response(_router_json(await _remote(request).routers.create(body)),
                             status=201)


@manager
@documented("One router alias", response=RouterAliasOut)
async def get_router(request: web.Request) -> web.Response:
    return web.json_response(_router_json(_remote(request).routers.get(
        request.match_info["alias"])))


@manager
@small_body
@documented("Change a router alias", body=RouterBody, response=RouterAliasOut,
            errors=(409,))
async def update_router(request: web.Request) -> web.Response:
    body = RouterBody.model_validate(await read_json(request, RouterBody))
    router = await _remote(request).routers.update(request.match_info["alias"], body)
    return web.json_response(_router_json(router))


@manager
@documented("Delete a router alias", status=204, media=None)
async def delete_router(request: web.Request) -> web.Response:
    await _remote(request).routers.delete(request.match_info["alias"])
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    api, router = "/bodhi/v1/models/api", "/bodhi/v1/models/router"
    app.router.add_get(api, list_api_models)
    app.router.add_post(api, create_api_model)
    app.router.add_post(api + "/test", test_api_model)
    app.router.add_post(api + "/fetch-models", fetch_models)
    app.router.add_get(api + "/{id}", get_api_model)
    app.router.add_put(api + "/{id}", update_api_model)
    app.router.add_delete(api + "/{id}", delete_api_model)
    app.router.add_get(router, list_routers)
    app.router.add_post(router, create_router)
    app.router.add_get(router + "/{alias:.+}", get_router)
    app.router.add_put(router + "/{alias:.+}", update_router)
    app.router.add_delete(router + "/{alias:.+}", delete_router)


