"""A fake of Anthropic's API for tests, strict about what it accepts, on loopback.

Its request models are written here from Anthropic's public API reference, independently of the
companion's own (``companion/families/anthropic/wire.py``), and forbid members Anthropic does not
know, so a translation error fails a test. It checks the headers (``x-api-key``, else 401
``authentication_error``; ``anthropic-version``, else 400), that roles alternate starting with
the user, and that every ``tool_use`` is answered by a ``tool_result`` in the next user turn and
every ``tool_result`` answers one; errors come in Anthropic's envelope.

Replies are scripted by model name:

- ``claude-text``: "Hello from Claude." (``stop_sequence`` when the request has stop
  sequences, ``max_tokens`` when ``max_tokens`` < 5);
- ``claude-tools``: a ``tool_use`` of the first tool with ``{"city": "Paris"}``, or, once the last
  turn holds a ``tool_result``, "It is sunny.";
- ``claude-broken-stream``: a stream that fails with an ``overloaded_error`` event midway;
- ``claude-garbage``: 200 with a body that is no message;
- any other model: 404 ``not_found_error``.

Streams are the real event sequence (``message_start``, ``ping``, block start/deltas/stop,
``message_delta``, ``message_stop``), text and tool input cut into pieces. It runs on its own
event loop in a thread, so blocking clients and a companion subprocess can reach it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tests.loopback_app import LoopbackApp

MODELS = ["claude-text", "claude-tools", "claude-broken-stream", "claude-garbage"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Text(_Strict):
    type: Literal["text"]
    text: str = Field(min_length=1)  # "text content blocks must be non-empty"


class Base64Image(_Strict):
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str


class UrlImage(_Strict):
    type: Literal["url"]
    url: str


class Image(_Strict):
    type: Literal["image"]
    source: Annotated[Base64Image | UrlImage, Field(discriminator="type")]


class ToolUse(_Strict):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any]


class ToolResult(_Strict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[Annotated[Text | Image, Field(discriminator="type")]] | None = None
    is_error: bool | None = None


Content = Annotated[Text | Image | ToolUse | ToolResult, Field(discriminator="type")]


class Turn(_Strict):
    role: Literal["user", "assistant"]
    content: str | list[Content]


class ToolDef(_Strict):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = None
    input_schema: dict[str, Any]


class Choice(_Strict):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(_Strict):
    user_id: str | None = None


class CountRequest(_Strict):
    model: str
    messages: list[Turn] = Field(min_length=1)
    system: str | list[Text] | None = None
    tools: list[ToolDef] | None = None
    tool_choice: Choice | None = None


class MessagesRequest(CountRequest):
    max_tokens: int = Field(ge=1)
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = None
    top_k: int | None = None
    stream: bool | None = None
    metadata: Metadata | None = None


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}},
                             status=status)


def _turn_errors(request: CountRequest) -> str | None:
    """Anthropic's conversation rules, as its 400s word them."""
    pending: set[str] = set()
    for number, turn in enumerate(request.messages):
        if turn.role != ("user" if number % 2 == 0 else "assistant"):
            return f"messages.{number}: roles must alternate between user and assistant, " \
                   "starting with user"
        blocks = [] if isinstance(turn.content, str) else turn.content
        answered = {b.tool_use_id for b in blocks if isinstance(b, ToolResult)}
        if turn.role == "user":
            if answered - pending or pending - answered:
                return f"messages.{number}: each tool_result must answer a tool_use of the " \
                       "previous message, and each tool_use must be answered"
            pending = set()
        else:
            pending = {b.id for b in blocks if isinstance(b, ToolUse)}
    return None


def _words(request: CountRequest) -> int:
    text = json.dumps([t.model_dump() for t in request.messages]) + json.dumps(
        request.system if isinstance(request.system, str) else
        [t.model_dump() for t in request.system or []])
    return len(text.split()) + 10 * len(request.tools or [])


class FakeAnthropic(LoopbackApp):
    url_path = "/v1"

    def __init__(self, api_key: str = "sk-ant-test") -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []   # every valid body, in order

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._checks])
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count)
        app.router.add_get("/v1/models", self._models)
        return app

    @web.middleware
    async def _checks(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("x-api-key") != self.api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        response: web.StreamResponse = await handler(request)
        return response

    async def _body(self, request: web.Request, model: type[CountRequest]
                    ) -> CountRequest | web.Response:
        try:
            raw = await request.json()
            body = model.model_validate(raw)
        except ValueError as exc:
            errors = exc.errors() if isinstance(exc, ValidationError) else []
            where = ".".join(str(p) for p in errors[0]["loc"]) if errors else "body"
            what = errors[0]["msg"] if errors else str(exc)
            return _error(400, "invalid_request_error", f"{where}: {what}")
        problem = _turn_errors(body)
        if problem:
            return _error(400, "invalid_request_error", problem)
        if body.model not in MODELS:
            return _error(404, "not_found_error", f"model: {body.model}")
        self.requests.append(raw)
        return body

    async def _count(self, request: web.Request) -> web.Response:
        body = await self._body(request, CountRequest)
        if isinstance(body, web.Response):
            return body
        return web.json_response({"input_tokens": _words(body)})

    async def _models(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "20"))
        after = request.query.get("after_id")
        start = MODELS.index(after) + 1 if after in MODELS else 0
        page = MODELS[start:start + limit]
        return web.json_response({
            "data": [{"type": "model", "id": m, "display_name": m.title(),
                      "created_at": "2025-02-19T00:00:00Z"} for m in page],
            "has_more": start + limit < len(MODELS), "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request, MessagesRequest)
        if isinstance(body, web.Response):
            return body
        assert isinstance(body, MessagesRequest)
        if body.model == "claude-garbage":
            return web.json_response({"hello": "world"})
        message = _reply(body)
        if not body.stream:
            return web.json_response(message)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in _events(message, broken=body.model == "claude-broken-stream"):
            await response.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
                                 .encode())
        await response.write_eof()
        return response


def _reply(body: MessagesRequest) -> dict[str, Any]:
    last = body.messages[-1].content
    answered = isinstance(last, list) and any(isinstance(b, ToolResult) for b in last)
    content: list[dict[str, Any]]
    stop, sequence = "end_turn", None
    if body.model == "claude-tools" and body.tools and not answered:
        content = [{"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                    "name": body.tools[0].name, "input": {"city": "Paris"}}]
        stop = "tool_use"
    else:
        content = [{"type": "text",
                    "text": "It is sunny." if answered else "Hello from Claude."}]
        if body.stop_sequences:
            stop, sequence = "stop_sequence", body.stop_sequences[0]
        elif body.max_tokens < 5:
            stop = "max_tokens"
    return {"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "model": body.model, "content": content, "stop_reason": stop,
            "stop_sequence": sequence, "usage": {"input_tokens": _words(body),
                                                 "output_tokens": 7}}


def _pieces(text: str, size: int = 5) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _events(message: dict[str, Any], *, broken: bool) -> list[dict[str, Any]]:
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start},
                                    {"type": "ping"}]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            events.append({"type": "content_block_start", "index": index,
                           "content_block": {"type": "text", "text": ""}})
            events += [{"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": p}}
                       for p in _pieces(block["text"])]
        else:
            events.append({"type": "content_block_start", "index": index,
                           "content_block": {**block, "input": {}}})
            events += [{"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": p}}
                       for p in _pieces(json.dumps(block["input"]), 4)]
        if broken:
            return [*events, {"type": "error", "error": {"type": "overloaded_error",
                                                          "message": "Overloaded"}}]
        events.append({"type": "content_block_stop", "index": index})
    return [*events,
            {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"],
                                                 "stop_sequence": message["stop_sequence"]},
             "usage": {"output_tokens": message["usage"]["output_tokens"]}},
            {"type": "message_stop"}]
