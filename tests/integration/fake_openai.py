"""A small OpenAI-format provider on loopback that misbehaves on request, for the failures a
real one cannot be made to show: rate limits, server errors, cut streams, garbage replies.

It checks what it is sent as OpenAI would (the bearer key, ``model`` and ``messages``) and
answers refusals in OpenAI's error shape. What each model name does:

* ``ok``...: a valid chat completion (whole or streamed), naming the model it was sent;
* ``rate-limited``: 429 with ``Retry-After: 7``;
* ``broken``: 500;
* ``cut``: a stream of two valid chunks, then the connection drops;
* ``garbage``: 200 with JSON that is no chat completion.

``calls`` counts the requests per model name.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from tests.loopback_app import LoopbackApp

KEY = "fake-provider-key-0123456789"


class _ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None
           ) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "param": None,
                                        "code": None}}, status=status, headers=headers)


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1,
            "model": model, "choices": [{"index": 0, "delta": delta,
                                         "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class FakeOpenAI(LoopbackApp):
    url_path = "/v1"

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        try:
            body = _ChatRequest.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            return _error(400, f"Invalid request: {exc}", "invalid_request_error")
        self.calls[body.model] += 1
        if body.model == "rate-limited":
            return _error(429, "Rate limit reached.", "requests", {"Retry-After": "7"})
        if body.model == "broken":
            return _error(500, "The server had an error.", "server_error")
        if body.model == "garbage":
            return web.json_response({"hello": "world"})
        if body.model == "cut":
            return await self._cut(request, body.model)
        if body.stream:
            return await self._stream(request, body.model)
        return web.json_response({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.model, "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant",
                                                          "content": f"hi from {body.model}"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}})

    async def _stream(self, request: web.Request, model: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_chunk(model, {"role": "assistant", "content": "hi"}))
        await response.write(_chunk(model, {}, "stop"))
        await response.write(b"data: [DONE]\n\n")
        return response

    async def _cut(self, request: web.Request, model: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_chunk(model, {"role": "assistant", "content": "one"}))
        await response.write(_chunk(model, {"content": " two"}))
        assert request.transport is not None
        request.transport.abort()  # the provider goes away mid-stream
        return response

    async def models(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        return web.json_response({"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "fake"}
            for name in ("ok-1", "ok-2", "rate-limited", "broken", "cut", "garbage")]})


@contextlib.contextmanager
def serving() -> Iterator[FakeOpenAI]:
    """The fake on a free loopback port, in a thread of its own; ``url`` ends in ``/v1``."""
    with FakeOpenAI() as fake:
        yield fake
