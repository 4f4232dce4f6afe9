"""Anthropic-compatible routes: the Messages API under ``/anthropic/v1`` (the base URL its SDK
gets) and ``/v1/messages`` (for clients that only let you set the host).

Same credentials as ``/v1``: a Bodhi API token in ``x-api-key`` (the SDK's ``api_key``) or
``Authorization: Bearer``. ``anthropic-version`` is optional here (Anthropic's API requires it;
its SDKs always send it); a value that is not a date is refused. Requests go through the
OpenAI-shaped pivot (``families/anthropic/client.py``), like every other family's.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from companion.auth.principal import Role
from companion.core.errors import BadRequestError, ModelNotFoundError
from companion.families import ApiFamily
from companion.families.anthropic import client, wire
from companion.inference.service import Endpoint
from companion.middleware.access import requires
from companion.middleware.app_activity import note_model
from companion.middleware.auth import PRINCIPAL
from companion.middleware.docs import QueryParam, documented
from companion.routes.bodies import read_json
from companion.routes.keys import INFERENCE
from companion.routes.relay import relay

_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
# Our models have no release date; Anthropic's list shows one, so it says the epoch.
_EPOCH = "1970-01-01T00:00:00Z"


def _check_version(request: web.Request) -> None:
    version = request.headers.get("anthropic-version")
    if version is not None and not _VERSION.fullmatch(version.strip()):
        raise BadRequestError(f"anthropic-version: {version!r} is not a version date such "
                              "as 2023-06-01.", param="anthropic-version")


@requires(Role.USER, app_scope="chat")
@documented("Anthropic: Messages", body=wire.MessagesRequest, response=wire.Message,
            stream="text/event-stream", errors=(404, 429, 502, 503))
async def messages(request: web.Request) -> web.StreamResponse:
    _check_version(request)
    body = await read_json(request, wire.MessagesRequest, client.describe_error)
    return await relay(request, ApiFamily.ANTHROPIC, Endpoint.CHAT, client.chat_body(body),
                       client.ReplyTranslator(body["model"]))


@requires(Role.USER, app_scope="chat")
@documented("Anthropic: count tokens", body=wire.CountTokensRequest, response=wire.CountTokensReply,
            errors=(404, 502, 503))
async def count_tokens(request: web.Request) -> web.Response:
    _check_version(request)
    body = await read_json(request, wire.CountTokensRequest, client.describe_error)
    openai_body = client.count_body(body)
    note_model(request, openai_body)
    tokens = await request.app[INFERENCE].count_tokens(openai_body, request[PRINCIPAL])
    return web.json_response({"input_tokens": tokens})


_LIST_QUERY = (
    QueryParam("limit", "1 to 1000.", {"type": "integer", "minimum": 1, "maximum": 1000}),
    QueryParam("after_id", "Page after this model."),
    QueryParam("before_id", "Page before this model."),
)


def _model_json(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": _EPOCH}


def _page(names: list[str], query: Any) -> dict[str, Any]:
    """Anthropic's paging: ``limit`` (1 to 1000, default 20) after ``after_id`` or before
    ``before_id``."""
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 1000:
        raise BadRequestError("limit: must be an integer from 1 to 1000.", param="limit")
    before, after = query.get("before_id"), query.get("after_id")
    if after in names:
        page = names[names.index(after) + 1:][:limit]
        more = names.index(after) + 1 + limit < len(names)
    elif before in names:
        start = max(0, names.index(before) - limit)
        page, more = names[start:names.index(before)], start > 0
    else:
        page, more = names[:limit], limit < len(names)
    return {"data": [_model_json(n) for n in page], "has_more": more,
            "first_id": page[0] if page else None, "last_id": page[-1] if page else None}


@requires(Role.USER, app_scope="models")
@documented("Anthropic: models", response=wire.ModelList,
            query=_LIST_QUERY)
async def list_models(request: web.Request) -> web.Response:
    _check_version(request)
    names = request.app[INFERENCE].model_names(request[PRINCIPAL])
    return web.json_response(_page(names, request.query))


@requires(Role.USER, app_scope="models")
@documented("Anthropic: one model", response=wire.ModelInfo)
async def get_model(request: web.Request) -> web.Response:
    _check_version(request)
    name = request.match_info["model"]
    if name not in request.app[INFERENCE].model_names(request[PRINCIPAL]):
        raise ModelNotFoundError(name)
    return web.json_response(_model_json(name))


def setup(app: web.Application) -> None:
    for base in ("/anthropic/v1", "/v1"):
        app.router.add_post(f"{base}/messages", messages)
        app.router.add_post(f"{base}/messages/count_tokens", count_tokens)
    app.router.add_get("/anthropic/v1/models", list_models)
    app.router.add_get("/anthropic/v1/models/{model:.+}", get_model)
