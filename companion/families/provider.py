"""``ProviderDialect``: how a remote provider of one API format is called, as seen from the
OpenAI-shaped calls the rest of the companion makes.

Every model the companion serves, local or remote, is reached with an OpenAI-shaped request
and answers OpenAI-shaped replies; that is the one pivot. A client family translates its
requests into that shape and the replies back (``translation.ReplyTranslation``); a remote
provider whose API format is not OpenAI's translates the other way round, here. So any client
family reaches any model with two translations at most, and each family module knows only its
own wire format and OpenAI's.

A dialect is pure: it builds the provider request (a path under the record's ``base_url``, a
JSON body, query parameters, headers) and turns the provider's bytes back into OpenAI JSON or
OpenAI SSE frames. The HTTP call, keys and retries belong to ``companion.providers``.
A reply the dialect cannot understand raises ``MalformedReply``; the caller answers 502 with
its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from companion.core.errors import UpstreamError


class MalformedReply(UpstreamError):
    """The provider answered 200 with something its own format does not allow."""

    code = "provider_reply_malformed"


M = TypeVar("M", bound=BaseModel)


def parse_reply(model: type[M], raw: bytes, provider: str) -> M:
    """``raw`` read as the wire model ``model``; else ``MalformedReply`` naming the first
    problem and where it is (``provider``: "Anthropic", "The Gemini provider", ...)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedReply(f"{provider}'s reply does not fit its format "
                             f"({model.__name__}): {f'{where!r}: ' if where else ''}"
                             f"{first['msg']}.") from exc


@dataclass(frozen=True)
class ProviderRequest:
    method: str                 # "GET" or "POST"
    path: str                   # appended to the record's base_url, e.g. "/messages"
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    stream: bool = False        # the provider answers with a stream (SSE)


class StreamTranslator(Protocol):
    """A provider's stream (bytes split anywhere) as OpenAI chat-completion SSE frames:
    each item is one complete ``b"data: {...}\\n\\n"`` frame; ``close`` ends with
    ``b"data: [DONE]\\n\\n"``. Raises ``MalformedReply`` on an event it cannot read, and
    ``ProviderStreamError`` for an error event the provider sent mid-stream."""

    def feed(self, chunk: bytes) -> Sequence[bytes]: ...

    def close(self) -> Sequence[bytes]: ...


class ProviderStreamError(UpstreamError):
    """The provider reported an error in the middle of a stream (its own error event)."""

    code = "provider_stream_error"


class ProviderDialect(Protocol):
    """``model`` is the provider's own id in the request methods (``chat``, ``embeddings``,
    ``count_tokens``) and the name the client asked for in the reply methods
    (``chat_reply``, ``chat_stream``, ``embeddings_reply``), which stamp it on the reply."""

    name: str   # the record's api_format: "openai", "anthropic" or "gemini"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The headers that carry the provider key (and any fixed version header)."""
        ...

    def chat(self, body: dict[str, Any], model: str) -> ProviderRequest:
        """An OpenAI chat-completions body (already validated; ``stream`` and
        ``stream_options.include_usage`` honoured) as a call on the provider's ``model``."""
        ...

    def chat_reply(self, raw: bytes, model: str) -> dict[str, Any]:
        """The provider's whole reply as an OpenAI ``chat.completion`` object."""
        ...

    def chat_stream(self, model: str, include_usage: bool) -> StreamTranslator: ...

    def embeddings(self, body: dict[str, Any], model: str) -> ProviderRequest:
        """An OpenAI embeddings body; ``BadRequestError`` when the format has none."""
        ...

    def embeddings_reply(self, raw: bytes, model: str) -> dict[str, Any]:
        """The provider's reply as an OpenAI ``list`` of ``embedding`` objects."""
        ...

    def count_tokens(self, body: dict[str, Any], model: str) -> ProviderRequest:
        """An OpenAI chat body's input tokens; ``BadRequestError`` when the format cannot."""
        ...

    def count_tokens_reply(self, raw: bytes) -> int: ...

    def list_models(self) -> ProviderRequest: ...

    def models_reply(self, raw: bytes) -> list[str]:
        """The provider's model ids, as a request would name them (no ``models/`` prefix)."""
        ...

    def error_message(self, status: int, raw: bytes) -> str:
        """The provider's own message from an error reply (never echoing the key)."""
        ...


@runtime_checkable
class KeyRefusals(Protocol):
    """A dialect whose provider refuses a wrong key with a status other than 401/403 says so
    (Google answers 400 ``INVALID_ARGUMENT`` with the reason ``API_KEY_INVALID``); the caller
    then reports it as it reports a 401: the provider refused its API key."""

    def refused_key(self, status: int, raw: bytes) -> bool: ...
