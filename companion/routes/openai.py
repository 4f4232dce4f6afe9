"""OpenAI-compatible routes under ``/v1``; bodies are relayed to llama.cpp unbuffered."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from companion.auth.principal import Role
from companion.families import ApiFamily
from companion.families.openai import PASSTHROUGH
from companion.families.openai_tools import ToolReplies, chat_request
from companion.inference.service import Endpoint
from companion.middleware.access import requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.docs import documented
from companion.models import ListedModel, RemoteModel
from companion.routes.bodies import read_json
from companion.routes.inference_replies import (
    ChatCompletion,
    Completion,
    EmbeddingList,
    ResponseObject,
)
from companion.routes.keys import INFERENCE
from companion.routes.openai_schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    ModelList,
    ModelObject,
    ResponseRequest,
    describe_error,
)
from companion.routes.relay import relay


def _model_json(alias: ListedModel) -> dict[str, Any]:
    # OpenAI's own models say "system" (or the organisation that made them); where a local
    # model came from (a user alias, a file in the cache, the embedded one) is ours to report,
    # on /bodhi/v1/models. A remote model is owned by its provider, so it names the API
    # format it is reached with ("openai", "anthropic", "gemini"), as OpenAI-compatible
    # gateways name the upstream that owns a model.
    owner = alias.owned_by if isinstance(alias, RemoteModel) else "system"
    return ModelObject(id=alias.alias, created=0, owned_by=owner).model_dump()


@requires(Role.USER, app_scope="models")
@documented("OpenAI: the models this caller may use", response=ModelList)
async def list_models(request: web.Request) -> web.Response:
    models = request.app[INFERENCE].list_models(request[PRINCIPAL])
    return web.json_response(ModelList.model_validate(
        {"data": [_model_json(m) for m in models]}).model_dump())


@requires(Role.USER, app_scope="models")
@documented("OpenAI: one model", response=ModelObject)
async def get_model(request: web.Request) -> web.Response:
    alias = request.app[INFERENCE].get_model(request.match_info["model"], request[PRINCIPAL])
    return web.json_response(_model_json(alias))


async def _relay(request: web.Request, endpoint: Endpoint, schema: type[BaseModel]
                 ) -> web.StreamResponse:
    body = await read_json(request, schema, describe_error)
    return await relay(request, ApiFamily.OPENAI, endpoint, body, PASSTHROUGH)


@requires(Role.USER, app_scope="chat")
@documented("OpenAI: chat completion", body=ChatCompletionRequest, response=ChatCompletion,
            stream="text/event-stream", errors=(404, 429, 502, 503))
async def chat_completions(request: web.Request) -> web.StreamResponse:
    chat = chat_request(await read_json(request, ChatCompletionRequest, describe_error))
    translation = ToolReplies(legacy=chat.legacy) if chat.uses_tools else PASSTHROUGH
    return await relay(request, ApiFamily.OPENAI, Endpoint.CHAT, chat.body, translation)


@requires(Role.USER, app_scope="chat")
@documented("OpenAI: text completion", body=CompletionRequest, response=Completion,
            stream="text/event-stream", errors=(404, 429, 502, 503))
async def completions(request: web.Request) -> web.StreamResponse:
    return await _relay(request, Endpoint.COMPLETIONS, CompletionRequest)


@requires(Role.USER, app_scope="embeddings")
@documented("OpenAI: embeddings", body=EmbeddingRequest, response=EmbeddingList,
            errors=(404, 429, 502, 503))
async def embeddings(request: web.Request) -> web.StreamResponse:
    return await _relay(request, Endpoint.EMBEDDINGS, EmbeddingRequest)


@requires(Role.USER, app_scope="chat")
@documented("OpenAI: Responses API", body=ResponseRequest, response=ResponseObject,
            stream="text/event-stream", errors=(404, 429, 502, 503))
async def responses(request: web.Request) -> web.StreamResponse:
    return await _relay(request, Endpoint.RESPONSES, ResponseRequest)


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", get_model)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/v1/responses", responses)
