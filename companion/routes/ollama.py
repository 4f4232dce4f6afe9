"""Ollama-compatible routes under ``/api`` (NDJSON streaming, Ollama's field names).

Same credentials as ``/v1``: an API token (``Authorization: Bearer``) or an app token with the
matching scope. Errors render as ``{"error": "..."}`` (the error middleware's Ollama family).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any, Self

from aiohttp import web
from pydantic import ConfigDict, Field, StrictStr, model_validator

from companion import __version__
from companion.auth.principal import Role
from companion.core.errors import BodhiError
from companion.core.schema import Schema
from companion.families import ApiFamily, ollama
from companion.families.translation import upstream_error
from companion.inference.process import LlamaProcess
from companion.inference.service import Endpoint
from companion.middleware.access import public, requires
from companion.middleware.app_activity import note_model
from companion.middleware.auth import PRINCIPAL
from companion.middleware.docs import documented
from companion.models import ListedModel, RemoteModel
from companion.models.gguf import GGUFInfo
from companion.routes.bodies import read_json
from companion.routes.inference_replies import (
    OllamaChatReply,
    OllamaEmbeddingReply,
    OllamaEmbedReply,
    OllamaGenerateReply,
    OllamaRunningList,
    OllamaShow,
    OllamaTags,
    OllamaVersion,
)
from companion.routes.keys import INFERENCE, MODELS
from companion.routes.relay import relay
from companion.routes.replies import shaped


class _Named(Schema):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)


class NamedOrOld(Schema):
    """show, pull, delete and create: Ollama still reads ``name``, the older ``model``."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr | None = Field(default=None, min_length=1)
    name: StrictStr | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _named(self) -> Self:
        if self.model is None and self.name is None:
            raise ValueError("'model' is required")
        return self


def model_of(body: dict[str, Any]) -> str:
    """The model a ``NamedOrOld`` body names."""
    return str(body.get("model") or body["name"])


class _Chat(_Named):
    messages: list[dict[str, Any]] = Field(default_factory=list)


def _iso(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch or 0, UTC).isoformat().replace("+00:00", "Z")


def _describe(app: web.Application, alias: ListedModel
              ) -> tuple[int, GGUFInfo | None, float]:
    """File size, GGUF header and modification time of the alias's file (zeros if absent,
    and for remote models, which have no file)."""
    if isinstance(alias, RemoteModel):
        return 0, None, 0.0
    try:
        path = app[MODELS].catalog.resolve(alias.alias).path
        size, info = app[MODELS].files.info_for(path)
        return size, info if isinstance(info, GGUFInfo) else None, path.stat().st_mtime
    except (BodhiError, OSError):
        return 0, None, 0.0


def _request_params(alias: ListedModel) -> dict[str, Any]:
    return {} if isinstance(alias, RemoteModel) else alias.request_params


def _details(info: GGUFInfo | None) -> dict[str, Any]:
    family = info.architecture if info else None
    return {"parent_model": "", "format": "gguf", "family": family or "",
            "families": [family] if family else None,
            "parameter_size": (info.size_label if info else None) or "",
            "quantization_level": (info.quantization if info else None) or ""}


def _origin(alias: ListedModel) -> str:
    """What serves the name: ``repo/filename`` of a local model."""
    if isinstance(alias, RemoteModel):
        return alias.origin
    return f"{alias.repo}/{alias.filename}"


def _entry(app: web.Application, alias: ListedModel) -> dict[str, Any]:
    size, info, mtime = _describe(app, alias)
    snapshot = "" if isinstance(alias, RemoteModel) else alias.snapshot
    digest = hashlib.sha256(f"{_origin(alias)}@{snapshot}".encode())
    return {"name": alias.alias, "model": alias.alias, "modified_at": _iso(mtime), "size": size,
            "digest": digest.hexdigest(), "details": _details(info)}


@public
@documented("Ollama: version", response=OllamaVersion)
async def version(request: web.Request) -> web.Response:
    return web.json_response(shaped(OllamaVersion, {"version": __version__}))


@requires(Role.USER, app_scope="models")
@documented("Ollama: models", response=OllamaTags)
async def tags(request: web.Request) -> web.Response:
    models = request.app[INFERENCE].list_models(request[PRINCIPAL])
    return web.json_response(shaped(OllamaTags,
                                    {"models": [_entry(request.app, m) for m in models]}))


@requires(Role.USER, app_scope="models")
@documented("Ollama: one model's details", body=NamedOrOld, response=OllamaShow,
            errors=(404,))
async def show(request: web.Request) -> web.Response:
    body = await read_json(request, NamedOrOld)
    alias = request.app[INFERENCE].get_model(model_of(body), request[PRINCIPAL])
    _, info, mtime = _describe(request.app, alias)
    model_info: dict[str, Any] = {}
    if info is not None and info.architecture:
        model_info = {"general.architecture": info.architecture,
                      f"{info.architecture}.context_length": info.context_length,
                      f"{info.architecture}.embedding_length": info.embedding_length}
    return web.json_response(shaped(OllamaShow, {
        "modelfile": f"FROM {_origin(alias)}\n", "license": "",
        "parameters": "\n".join(f"{k} {v}" for k, v in _request_params(alias).items()),
        "template": (info.chat_template if info else None) or "",
        "details": _details(info), "model_info": model_info, "modified_at": _iso(mtime),
        "capabilities": ["completion", "embedding"] + (["tools"] if info and
                                                        info.has_chat_template else [])}))


def _ps_entry(app: web.Application, process: LlamaProcess, keep_alive: int) -> dict[str, Any]:
    size, info = 0, None
    with contextlib.suppress(BodhiError):  # an alias removed while its model runs
        size, info, _ = _describe(app, app[MODELS].catalog.resolve_alias(process.alias))
    expires = process.last_used_at() + keep_alive if keep_alive >= 0 else 4102444800
    return {"name": process.alias, "model": process.alias, "size": process.memory_bytes() or size,
            "digest": "", "details": _details(info), "expires_at": _iso(expires),
            "size_vram": 0, "context_length": info.context_length if info else None}


@requires(Role.USER, app_scope="models")
@documented("Ollama: loaded models", response=OllamaRunningList)
async def ps(request: web.Request) -> web.Response:
    inference = request.app[INFERENCE]
    caller = request[PRINCIPAL]
    keep_alive = inference.keep_alive_secs()
    return web.json_response(shaped(OllamaRunningList, {
        "models": [_ps_entry(request.app, p, keep_alive) for p in inference.loaded(caller)]}))


@requires(Role.USER, app_scope="chat")
@documented("Ollama: chat", body=_Chat, response=OllamaChatReply, stream="application/x-ndjson",
            errors=(404, 429, 502, 503))
async def chat(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, _Chat)
    translator = ollama.ReplyTranslator(body["model"], chat=True)
    return await relay(request, ApiFamily.OLLAMA, Endpoint.CHAT, ollama.chat_body(body),
                       translator)


@requires(Role.USER, app_scope="chat")
@documented("Ollama: generate (or load/unload with an empty prompt)", body=_Named,
            response=OllamaGenerateReply, stream="application/x-ndjson",
            errors=(404, 429, 502, 503))
async def generate(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, _Named)
    if not body.get("prompt") and not body.get("raw"):
        return await _load_or_unload(request, body)
    raw, openai_body = ollama.generate_body(body)
    translator = ollama.ReplyTranslator(body["model"], chat=False)
    return await relay(request, ApiFamily.OLLAMA, Endpoint.COMPLETIONS if raw else Endpoint.CHAT,
                       openai_body, translator)


async def _load_or_unload(request: web.Request, body: dict[str, Any]) -> web.Response:
    """Ollama's convention: an empty prompt loads the model; with keep_alive 0, unloads it."""
    inference = request.app[INFERENCE]
    name = body["model"]
    if body.get("keep_alive") in (0, "0", "0s", "0m"):
        await inference.unload(name, request[PRINCIPAL])
        reason = "unload"
    else:
        await inference.load(name, request[PRINCIPAL])
        reason = "load"
    return web.json_response({"model": name, "created_at": ollama.now_iso(), "response": "",
                              "done": True, "done_reason": reason})


async def _embed(request: web.Request) -> dict[str, Any]:
    body = await read_json(request, _Named)
    started = time.monotonic()
    openai_body = ollama.embed_body(body)
    note_model(request, openai_body)
    async with request.app[INFERENCE].forward(Endpoint.EMBEDDINGS, openai_body,
                                              request[PRINCIPAL]) as reply:
        raw = await reply.read()
        if reply.status != 200:
            raise upstream_error(reply.status, raw)
    return ollama.embed_reply(body["model"], json.loads(raw), started)


@requires(Role.USER, app_scope="embeddings")
@documented("Ollama: embeddings", body=_Named, response=OllamaEmbedReply,
            errors=(404, 429, 502, 503))
async def embed(request: web.Request) -> web.Response:
    return web.json_response(shaped(OllamaEmbedReply, await _embed(request)))


@requires(Role.USER, app_scope="embeddings")
@documented("Ollama: one embedding (the older endpoint)", body=_Named,
            response=OllamaEmbeddingReply, errors=(404, 429, 502, 503))
async def embedding(request: web.Request) -> web.Response:
    result = await _embed(request)
    return web.json_response(shaped(OllamaEmbeddingReply,
                                    {"embedding": result["embeddings"][0]}))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/version", version)
    app.router.add_get("/api/tags", tags)
    app.router.add_post("/api/show", show)
    app.router.add_get("/api/ps", ps)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/generate", generate)
    app.router.add_post("/api/embed", embed)
    app.router.add_post("/api/embeddings", embedding)
