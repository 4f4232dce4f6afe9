"""Gemini-compatible routes under ``/v1beta`` (Google's Gemini Developer API).

Credentials: an API token as ``x-goog-api-key`` (what the ``google-genai`` SDK sends),
``?key=`` or ``Authorization: Bearer``. Errors render in Google's envelope
(``{"error": {"code", "message", "status"}}``). Model names go in the path unencoded, as the SDK
sends them, so they may hold ``/`` and ``:`` (``owner/repo:Q4_K_M:generateContent``): the
method is what follows the last colon.

``streamGenerateContent`` streams SSE with ``?alt=sse`` (what the SDKs ask for). Without it
Google answers a JSON array of responses; here that array holds one complete response.
"""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, RootModel

from companion.auth.principal import Role
from companion.core.errors import BadRequestError, ModelNotFoundError, NotFoundError
from companion.families import ApiFamily
from companion.families.gemini import client, wire
from companion.families.gemini.replies import ReplyTranslator
from companion.families.translation import upstream_error
from companion.inference.service import Endpoint
from companion.middleware.access import requires
from companion.middleware.app_activity import note_model
from companion.middleware.auth import PRINCIPAL
from companion.middleware.docs import QueryParam, documented
from companion.routes.bodies import read_json
from companion.routes.keys import INFERENCE
from companion.routes.relay import relay

W = TypeVar("W", bound=BaseModel)
_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 1000


_LIST_QUERY = (
    QueryParam("pageSize", "Models per page.", {"type": "integer", "minimum": 0}),
    QueryParam("pageToken", "Where the page starts."),
)


_STREAM_QUERY = (
    QueryParam("alt", "sse for Server-Sent Events."),
)


class GenerateContentStream(RootModel[list[wire.GenerateContentResponse]]):
    """``streamGenerateContent`` without ``?alt=sse``: the replies as one JSON array."""


async def _read(request: web.Request, schema: type[W]) -> W:
    return schema.model_validate(await read_json(request, schema, client.describe_error))


def _model(request: web.Request) -> str:
    return request.match_info["model"].removeprefix("models/")


def _page(request: web.Request) -> tuple[int, int]:
    try:
        size = int(request.query.get("pageSize") or _PAGE_SIZE)
        start = int(request.query.get("pageToken") or 0)
    except ValueError:
        size, start = -1, -1
    if size < 0 or start < 0:
        raise BadRequestError("Invalid value at 'page_size' or 'page_token'.", param="pageSize")
    return min(size or _PAGE_SIZE, _MAX_PAGE_SIZE), start


@requires(Role.USER, app_scope="models")
@documented("Gemini: models", response=wire.ListModelsResponse,
            query=_LIST_QUERY)
async def list_models(request: web.Request) -> web.Response:
    names = sorted(request.app[INFERENCE].model_names(request[PRINCIPAL]))
    size, start = _page(request)
    page: dict[str, object] = {"models": [client.model_entry(n)
                                          for n in names[start:start + size]]}
    if start + size < len(names):
        page["nextPageToken"] = str(start + size)
    return web.json_response(page)


@requires(Role.USER, app_scope="models")
@documented("Gemini: one model", response=wire.Model)
async def get_model(request: web.Request) -> web.Response:
    name = _model(request)
    if name not in request.app[INFERENCE].model_names(request[PRINCIPAL]):
        raise ModelNotFoundError(name)
    return web.json_response(client.model_entry(name))


@requires(Role.USER, app_scope="chat")
@documented("Gemini: generate content", body=wire.GenerateContentRequest,
            response=wire.GenerateContentResponse, errors=(429, 502, 503))
async def generate_content(request: web.Request) -> web.StreamResponse:
    body = await _read(request, wire.GenerateContentRequest)
    model = _model(request)
    return await relay(request, ApiFamily.GEMINI, Endpoint.CHAT,
                       client.chat_body(body, model, stream=False), ReplyTranslator(model))


@requires(Role.USER, app_scope="chat")
@documented("Gemini: stream generated content (a JSON array, or SSE with ?alt=sse)",
            body=wire.GenerateContentRequest,
            response=GenerateContentStream,
            stream="text/event-stream", query=_STREAM_QUERY,
            errors=(429, 502, 503))
async def stream_generate_content(request: web.Request) -> web.StreamResponse:
    body = await _read(request, wire.GenerateContentRequest)
    model = _model(request)
    sse = request.query.get("alt") == "sse"
    return await relay(request, ApiFamily.GEMINI, Endpoint.CHAT,
                       client.chat_body(body, model, stream=sse),
                       ReplyTranslator(model, array=not sse))


@requires(Role.USER, app_scope="chat")
@documented("Gemini: count tokens", body=wire.CountTokensRequest, response=wire.CountTokensResponse,
            errors=(502, 503))
async def count_tokens(request: web.Request) -> web.Response:
    body = await _read(request, wire.CountTokensRequest)
    openai_body = client.count_body(body, _model(request))
    note_model(request, openai_body)
    total = await request.app[INFERENCE].count_tokens(openai_body, request[PRINCIPAL])
    return web.json_response({"totalTokens": total})


async def _embed(request: web.Request, requests: list[wire.EmbedContentRequest]
                 ) -> list[dict[str, object]]:
    openai_body = client.embed_body(requests, _model(request))
    note_model(request, openai_body)
    async with request.app[INFERENCE].forward(Endpoint.EMBEDDINGS, openai_body,
                                              request[PRINCIPAL]) as reply:
        raw = await reply.read()
        if reply.status != 200:
            raise upstream_error(reply.status, raw)
    return client.embeddings(json.loads(raw), requests)


@requires(Role.USER, app_scope="embeddings")
@documented("Gemini: embed content", body=wire.EmbedContentRequest,
            response=wire.EmbedContentResponse, errors=(429, 502, 503))
async def embed_content(request: web.Request) -> web.Response:
    body = await _read(request, wire.EmbedContentRequest)
    return web.json_response({"embedding": (await _embed(request, [body]))[0]})


@requires(Role.USER, app_scope="embeddings")
@documented("Gemini: embed several contents", body=wire.BatchEmbedContentsRequest,
            response=wire.BatchEmbedContentsResponse, errors=(429, 502, 503))
async def batch_embed_contents(request: web.Request) -> web.Response:
    body = await _read(request, wire.BatchEmbedContentsRequest)
    return web.json_response({"embeddings": await _embed(request, body.requests)})


@requires(Role.USER, app_scope="chat")
@documented("Gemini: any other model method (not supported: 404)", status=404)
async def unknown_method(request: web.Request) -> web.Response:
    method = request.match_info["model"].rpartition(":")[2]
    raise NotFoundError(f"Method '{method}' is not found for the models resource (supported: "
                        "generateContent, streamGenerateContent, countTokens, embedContent, "
                        "batchEmbedContents).", code="unknown_method")


def setup(app: web.Application) -> None:
    # Tried in order: the methods first, so ``{model:.+}`` never swallows one.
    methods = {"generateContent": generate_content,
               "streamGenerateContent": stream_generate_content,
               "countTokens": count_tokens, "embedContent": embed_content,
               "batchEmbedContents": batch_embed_contents}
    for method, handler in methods.items():
        app.router.add_post(f"/v1beta/models/{{model:.+}}:{method}", handler)
    app.router.add_get("/v1beta/models", list_models)
    app.router.add_get("/v1beta/models/{model:.+}", get_model)
    app.router.add_post("/v1beta/models/{model:.+}", unknown_method)
