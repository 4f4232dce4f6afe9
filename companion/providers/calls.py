"""Calls on remote providers: the OpenAI-shaped request made into the provider's, the reply
made back into OpenAI's shape, and the provider's refusals made into our errors.

The provider's answer is streamed through as it arrives (frame by frame once the dialect has
translated it); nothing waits for the whole stream. A refusal becomes, whatever the client
family:

* 401/403: 401 ``provider_auth_error`` naming the record, never the key;
* 429: 429 with the provider's ``Retry-After``;
* any other 4xx: 400 with the provider's message;
* 5xx: 502; no connection at all: 502 ``provider_unreachable``;
* a 200 that its own format does not allow: 502 with the reason (``MalformedReply``).

The key never reaches a message or a log line: provider messages are scrubbed of it too, in
case a provider echoes what it was sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from companion.core.errors import (
    AuthenticationError,
    BadRequestError,
    BodhiError,
    TooManyRequestsError,
    UpstreamError,
)
from companion.core.upstream import ProviderClient, ProviderLost, ProviderReply, ProviderUnreachable
from companion.families.provider import ProviderDialect, ProviderRequest, StreamTranslator
from companion.providers.dialects import dialect_for
from companion.providers.records import Provider

log = logging.getLogger(__name__)

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"
RESPONSES = "/v1/responses"
# Endpoints only an OpenAI-format provider has; its reply goes through as it came.
_OPENAI_ONLY = {COMPLETIONS: "/completions", RESPONSES: "/responses"}
TEST_PROMPT = "Say hello."


class ApiReply:
    """A provider's reply already in OpenAI's shape; the same interface as a child's."""

    status = 200

    def __init__(self, reply: ProviderReply, provider: Provider,
                 translate: StreamTranslator | None, whole: Any = None) -> None:
        self._reply = reply
        self._provider = provider
        self._translate = translate
        self._whole = whole    # (raw -> dict) for a whole reply; None passes bytes through
        stream = reply.content_type.startswith("text/event-stream")
        self.content_type = "text/event-stream" if stream else "application/json"

    @property
    def is_event_stream(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    async def chunks(self) -> AsyncIterator[bytes]:
        """OpenAI bytes as they come; ``UpstreamError`` when the provider cuts the stream."""
        if not self.is_event_stream:
            yield await self.read()
            return
        try:
            async for chunk in self._reply.chunks():
                for frame in self._frames(chunk):
                    yield frame
        except ProviderLost as exc:
            log.warning("provider %s: stream cut: %s", self._provider.label, exc)
            raise UpstreamError(f"The provider '{self._provider.label}' stopped while "
                                "answering; try again.", code="provider_stream_cut") from exc
        if self._translate is not None:
            for frame in self._translate.close():
                yield frame

    def _frames(self, chunk: bytes) -> Sequence[bytes]:
        return self._translate.feed(chunk) if self._translate is not None else (chunk,)

    async def read(self) -> bytes:
        if self.is_event_stream:
            return b"".join([chunk async for chunk in self.chunks()])
        try:
            raw = await self._reply.read()
        except ProviderLost as exc:
            raise UpstreamError(f"The provider '{self._provider.label}' stopped while "
                                "answering; try again.", code="provider_stream_cut") from exc
        return json.dumps(self._whole(raw)).encode() if self._whole is not None else raw


class ProviderCalls:
    def __init__(self, client: ProviderClient) -> None:
        self._client = client

    @contextlib.asynccontextmanager
    async def forward(self, provider: Provider, endpoint: str, body: dict[str, Any],
                      upstream_model: str, asked: str) -> AsyncIterator[ApiReply]:
        """``body`` (OpenAI's shape, for ``endpoint``) sent as the provider's call on
        ``upstream_model``; the reply names ``asked``, the model the client asked for."""
        dialect = dialect_for(provider.api_format)
        sent = {**provider.extra_body, **body}
        request, translate, whole = self._plan(dialect, provider, endpoint, sent,
                                               upstream_model, asked)
        reply = await self._send(provider, dialect, request)
        try:
            await self._refuse_unless_ok(provider, dialect, reply)
            yield ApiReply(reply, provider, translate if request.stream else None, whole)
        finally:
            reply.finish()

    @staticmethod
    def _plan(dialect: ProviderDialect, provider: Provider, endpoint: str,
              body: dict[str, Any], upstream_model: str, asked: str
              ) -> tuple[ProviderRequest, StreamTranslator | None, Any]:
        if endpoint == CHAT:
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return (dialect.chat(body, upstream_model), dialect.chat_stream(asked, usage),
                    lambda raw: dialect.chat_reply(raw, asked))
        if endpoint == EMBEDDINGS:
            return (dialect.embeddings(body, upstream_model), None,
                    lambda raw: dialect.embeddings_reply(raw, asked))
        if endpoint in _OPENAI_ONLY and provider.api_format == "openai":
            return (ProviderRequest("POST", _OPENAI_ONLY[endpoint],
                                    {**body, "model": upstream_model},
                                    stream=bool(body.get("stream"))), None, None)
        raise BadRequestError(f"'{asked}' is served by a {provider.api_format}-format "
                              f"provider, which has no equivalent of {endpoint}; use "
                              "/v1/chat/completions.", code="endpoint_not_supported",
                              param="model")

    async def call_json(self, provider: Provider, request: ProviderRequest) -> bytes:
        """A small call whose whole reply is wanted (model lists, token counts, tests)."""
        dialect = dialect_for(provider.api_format)
        reply = await self._send(provider, dialect, request)
        try:
            await self._refuse_unless_ok(provider, dialect, reply)
            return await reply.read()
        except ProviderLost as exc:
            raise _unreachable(provider, exc) from exc
        finally:
            reply.finish()

    async def fetch_models(self, provider: Provider) -> list[str]:
        dialect = dialect_for(provider.api_format)
        return dialect.models_reply(await self.call_json(provider, dialect.list_models()))

    async def count_tokens(self, provider: Provider, body: dict[str, Any],
                           upstream_model: str) -> int:
        dialect = dialect_for(provider.api_format)
        raw = await self.call_json(provider, dialect.count_tokens(body, upstream_model))
        return dialect.count_tokens_reply(raw)

    async def test(self, provider: Provider, model: str, prompt: str | None) -> str:
        """A short chat on ``model`` (the provider's id); the text it answered."""
        dialect = dialect_for(provider.api_format)
        body = {"model": model, "max_tokens": 16, "stream": False,
                "messages": [{"role": "user", "content": prompt or TEST_PROMPT}]}
        raw = await self.call_json(provider, dialect.chat({**provider.extra_body, **body},
                                                          model))
        reply = dialect.chat_reply(raw, model)
        content = reply["choices"][0]["message"].get("content")
        return content if isinstance(content, str) else json.dumps(content)

    async def _send(self, provider: Provider, dialect: ProviderDialect,
                    request: ProviderRequest) -> ProviderReply:
        headers = {**(dialect.auth_headers(provider.api_key) if provider.api_key else {}),
                   **provider.extra_headers}
        if request.stream:
            headers["Accept"] = "text/event-stream"
        payload = json.dumps(request.body).encode() if request.body is not None else None
        try:
            return await self._client.send(request.method, provider.base_url + request.path,
                                           headers=headers, payload=payload,
                                           query=request.query)
        except (ProviderUnreachable, ProviderLost) as exc:
            raise _unreachable(provider, exc) from exc

    @staticmethod
    async def _refuse_unless_ok(provider: Provider, dialect: ProviderDialect,
                                reply: ProviderReply) -> None:
        if reply.status == 200:
            return
        try:
            raw = await reply.read()
        except ProviderLost:
            raw = b""
        message = dialect.error_message(reply.status, raw)
        if provider.api_key:
            message = message.replace(provider.api_key, "***")
        raise refusal(provider.label, reply.status, message, reply.retry_after)


def refusal(label: str, status: int, message: str, retry_after: str | None) -> BodhiError:
    """A provider's refusal in our error tree (see the module docstring)."""
    log.warning("provider %s refused a call: HTTP %s", label, status)
    if status in (401, 403):
        return AuthenticationError(f"The provider '{label}' refused its API key (HTTP "
                                   f"{status}): {message}", code="provider_auth_error")
    if status == 429:
        wait = int(retry_after) if retry_after and retry_after.strip().isdigit() else None
        return TooManyRequestsError(f"The provider '{label}' is rate limiting: {message}",
                                    code="provider_rate_limited", retry_after=wait)
    if status < 500:
        return BadRequestError(f"The provider '{label}' refused the request (HTTP {status}): "
                               f"{message}", code="provider_bad_request")
    return UpstreamError(f"The provider '{label}' failed (HTTP {status}): {message}",
                         code="provider_error")


def _unreachable(provider: Provider, exc: Exception) -> UpstreamError:
    log.warning("provider %s unreachable: %s", provider.label, exc)
    return UpstreamError(f"The provider '{provider.label}' cannot be reached "
                         f"({type(exc.__cause__ or exc).__name__}).",
                         code="provider_unreachable")
