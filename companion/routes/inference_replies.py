"""The reply shapes of the OpenAI and Ollama inference routes, for the API document.

A local model's reply is llama.cpp's, relayed; a remote one is the provider's, checked or
translated on the way (``families/``). These models say what every such reply has: what the
official clients read. They allow extra members, because servers add their own (llama.cpp's
``timings``, OpenAI's ``system_fingerprint``) and clients ignore what they do not know. The
schemathesis run checks the real replies against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from companion.core.schema import Schema


class _Open(Schema):
    model_config = ConfigDict(extra="allow", defer_build=True)  # built on first use


# --- OpenAI ---------------------------------------------------------------------------------

class Usage(_Open):
    prompt_tokens: int
    total_tokens: int
    completion_tokens: int | None = None


class AssistantMessage(_Open):
    role: Literal["assistant"]
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatChoice(_Open):
    index: int
    message: AssistantMessage
    finish_reason: str | None


class ChatCompletion(_Open):
    """``object: chat.completion``; with ``stream: true`` the reply is server-sent
    ``chat.completion.chunk`` events instead, ending with ``data: [DONE]``."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None


class CompletionChoice(_Open):
    index: int
    text: str
    finish_reason: str | None


class Completion(_Open):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class Embedding(_Open):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str       # a base64 string with encoding_format "base64"


class EmbeddingList(_Open):
    object: Literal["list"]
    model: str
    data: list[Embedding]
    usage: Usage | None = None


class ResponseObject(_Open):
    """The Responses API's ``response`` object (``output`` holds message and tool-call items)."""

    id: str
    object: Literal["response"]
    created_at: int
    model: str
    status: str
    output: list[dict[str, Any]]
    usage: dict[str, Any] | None = None


# --- Ollama ---------------------------------------------------------------------------------

class OllamaDetails(_Open):
    format: str
    family: str
    families: list[str] | None
    parameter_size: str
    quantization_level: str
    parent_model: str = ""


class OllamaModel(_Open):
    name: str
    model: str
    modified_at: str
    size: int
    digest: str
    details: OllamaDetails


class OllamaTags(_Open):
    models: list[OllamaModel]


class OllamaRunning(_Open):
    name: str
    model: str
    size: int
    digest: str
    details: OllamaDetails
    expires_at: str
    size_vram: int
    context_length: int | None = None


class OllamaRunningList(_Open):
    models: list[OllamaRunning]


class OllamaShow(_Open):
    modelfile: str
    parameters: str
    template: str
    details: OllamaDetails
    model_info: dict[str, Any]
    capabilities: list[str]
    license: str = ""
    modified_at: str | None = None


class OllamaVersion(_Open):
    version: str


class _OllamaDone(_Open):
    """What the last NDJSON line (or the whole reply with ``stream: false``) carries."""

    model: str
    created_at: str
    done: bool
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None


class OllamaMessage(_Open):
    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None = None


class OllamaChatReply(_OllamaDone):
    """With ``stream`` (the default) the reply is NDJSON lines of this shape, the last one
    with ``done: true`` and the counts."""

    message: OllamaMessage


class OllamaGenerateReply(_OllamaDone):
    response: str


class OllamaEmbedReply(_Open):
    model: str
    embeddings: list[list[float]]
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None


class OllamaEmbeddingReply(_Open):
    """The older ``/api/embeddings``: one prompt, one vector."""

    embedding: list[float]
