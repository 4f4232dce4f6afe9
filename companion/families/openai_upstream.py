"""The OpenAI-format provider dialect: OpenAI and every server that speaks its API
(llama.cpp, vLLM, OpenRouter, another Bodhi...).

The pivot is OpenAI's shape, so the request goes out nearly as it came (only ``model``
becomes the provider's id) and the reply comes back nearly as it went. Nearly: a reply is
still checked against OpenAI's wire format, so garbage from a misconfigured base URL (an
HTML page, another API's JSON) is reported as ``MalformedReply`` rather than handed to a
client, and every ``model`` field is stamped with the name the client asked for, not the
provider's id behind it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from companion.core.errors import BadRequestError
from companion.core.schema import Schema
from companion.families.provider import (
    MalformedReply,
    ProviderRequest,
    ProviderStreamError,
)
from companion.families.sse import EventStream


class _Open(Schema):
    model_config = ConfigDict(extra="allow")


class _Message(_Open):
    role: str


class _Choice(_Open):
    index: int = 0
    message: _Message
    finish_reason: str | None = None


class ChatCompletion(_Open):
    """``chat.completion``: what must be there for a client to read the answer."""

    choices: list[_Choice] = Field(min_length=1)


class _ChunkChoice(_Open):
    index: int = 0
    delta: dict[str, Any] = Field(default_factory=dict)


class ChatCompletionChunk(_Open):
    """``chat.completion.chunk``; the usage chunk has no choices."""

    choices: list[_ChunkChoice]


class _Embedding(_Open):
    embedding: list[float] | str
    index: int = 0


class EmbeddingList(_Open):
    data: list[_Embedding]


class _ModelEntry(_Open):
    id: str


class ModelList(_Open):
    data: list[_ModelEntry]


def _parsed(raw: bytes, schema: type[_Open], what: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise MalformedReply(f"The provider's {what} is not JSON.") from exc
    return _checked(document, schema, what)


def _checked(document: Any, schema: type[_Open], what: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise MalformedReply(f"The provider's {what} is not a JSON object.")
    try:
        schema.model_validate(document)
    except ValidationError as exc:
        raise MalformedReply(f"The provider's {what} is not OpenAI's format: "
                             f"{_reason(exc)}") from exc
    return document


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "the reply"
    return f"'{where}': {first['msg']}"


class OpenAIStream(EventStream[bytes]):
    """OpenAI SSE frames in, OpenAI SSE frames out, each checked and stamped with ``model``."""

    def __init__(self, model: str) -> None:
        super().__init__()
        self._model = model
        self._done = False

    def feed(self, chunk: bytes) -> Sequence[bytes]:
        return self._translate(chunk)

    def close(self) -> Sequence[bytes]:
        tail = self._translate_rest()
        if not self._done:
            raise MalformedReply("The provider's stream ended without its closing "
                                 "'data: [DONE]'.")
        return [*tail, b"data: [DONE]\n\n"]

    def _event(self, data: bytes) -> list[bytes]:
        if data.strip() == b"[DONE]":
            self._done = True
            return []
        document = _parsed(data, _Open, "stream event")
        if "error" in document:
            raise ProviderStreamError(f"The provider stopped the stream: "
                                      f"{message_of(document) or 'an error'}")
        _checked(document, ChatCompletionChunk, "stream event")
        document["model"] = self._model
        return [b"data: " + json.dumps(document).encode() + b"\n\n"]


def message_of(document: Any) -> str | None:
    """OpenAI's ``{"error": {"message"}}``, or the looser shapes compatible servers send."""
    if not isinstance(document, dict):
        return None
    error = document.get("error", document)
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return None


class OpenAIDialect:
    name = "openai"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def chat(self, body: dict[str, Any], model: str) -> ProviderRequest:
        return ProviderRequest("POST", "/chat/completions", {**body, "model": model},
                               stream=bool(body.get("stream")))

    def chat_reply(self, raw: bytes, model: str) -> dict[str, Any]:
        return {**_parsed(raw, ChatCompletion, "reply"), "model": model}

    def chat_stream(self, model: str, include_usage: bool) -> OpenAIStream:
        return OpenAIStream(model)

    def embeddings(self, body: dict[str, Any], model: str) -> ProviderRequest:
        return ProviderRequest("POST", "/embeddings", {**body, "model": model})

    def embeddings_reply(self, raw: bytes, model: str) -> dict[str, Any]:
        return {**_parsed(raw, EmbeddingList, "embeddings reply"), "model": model}

    def count_tokens(self, body: dict[str, Any], model: str) -> ProviderRequest:
        raise BadRequestError("An OpenAI-format provider cannot count a request's tokens.",
                              code="count_tokens_not_supported", param="model")

    def count_tokens_reply(self, raw: bytes) -> int:
        raise MalformedReply("An OpenAI-format provider has no token count reply.")

    def list_models(self) -> ProviderRequest:
        return ProviderRequest("GET", "/models")

    def models_reply(self, raw: bytes) -> list[str]:
        return [m["id"] for m in _parsed(raw, ModelList, "model list")["data"]]

    def error_message(self, status: int, raw: bytes) -> str:
        try:
            found = message_of(json.loads(raw))
        except ValueError:
            found = None
        return found or raw.decode("utf-8", errors="replace").strip()[:300] or f"HTTP {status}"


DIALECT = OpenAIDialect()
