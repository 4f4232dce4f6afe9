"""companion/routes/relay.py: one relay, each family's framing, against a real local server
standing in for a llama.cpp child (the real ``ChildClient`` and ``UpstreamReply`` read it)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from companion.auth.principal import Principal, PrincipalKind
from companion.core.upstream import ChildClient, make_child_session
from companion.families import ApiFamily, ollama
from companion.families.anthropic import client as anthropic
from companion.families.openai import PASSTHROUGH
from companion.families.translation import ReplyTranslation
from companion.inference.service import Endpoint, UpstreamReply
from companion.middleware.auth import PRINCIPAL
from companion.middleware.errors import error_middleware
from companion.routes.keys import INFERENCE
from companion.routes.relay import relay

Client = TestClient[web.Request, web.Application]

EVENTS = [{"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
          {"choices": [{"index": 0, "delta": {"content": "lo"}}]}]
SSE_BODY = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in EVENTS)
WHOLE = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
LOST = "The model server for 'm' stopped while answering; try again."


async def model_server(request: web.Request) -> web.StreamResponse:
    """Streams, answers whole, refuses, or dies after the first event, as the body asks."""
    body = await request.json()
    if body.get("refuse"):
        return web.json_response({"error": {"message": "context too long"}}, status=400)
    if not body.get("stream"):
        return web.json_response(WHOLE)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if body.get("die"):
        await response.write(SSE_BODY.split(b"\n\n")[0] + b"\n\n")
        assert request.transport is not None
        request.transport.close()  # mid-stream, before the chunked body ends
        return response
    await response.write(SSE_BODY)
    await response.write_eof()
    return response


class ChildOnly:
    """``InferenceService.forward`` without the pool: straight to the stand-in child."""

    def __init__(self, children: ChildClient, base_url: str) -> None:
        self._children = children
        self._base_url = base_url

    @asynccontextmanager
    async def forward(self, endpoint: Endpoint, body: dict[str, Any], caller: Principal
                      ) -> AsyncIterator[UpstreamReply]:
        reply = await self._children.post_json(self._base_url + endpoint.value,
                                               json.dumps(body).encode(),
                                               stream=bool(body.get("stream")), auth={})
        try:
            yield UpstreamReply(reply, "m")
        finally:
            reply.finish()


def _route(family: ApiFamily, translation: Callable[[], ReplyTranslation] | None = None
           ) -> web.Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        request[PRINCIPAL] = Principal(PrincipalKind.ANONYMOUS)
        body = await request.json()
        chosen = translation() if translation else PASSTHROUGH
        return await relay(request, family, Endpoint.CHAT, body, chosen)

    return handler


@pytest.fixture
async def client(aiohttp_client: Any) -> AsyncIterator[Client]:
    child_app = web.Application()
    child_app.router.add_post(Endpoint.CHAT.value, model_server)
    server = TestServer(child_app)
    await server.start_server()
    session = make_child_session()
    app = web.Application(middlewares=[error_middleware()])
    app[INFERENCE] = ChildOnly(ChildClient(session), str(server.make_url("")).rstrip("/"))  # type: ignore[arg-type]
    app.router.add_post("/v1/chat", _route(ApiFamily.OPENAI))
    app.router.add_post("/api/chat", _route(ApiFamily.OLLAMA,
                                            lambda: ollama.ReplyTranslator("m", chat=True)))
    app.router.add_post("/v1/messages", _route(ApiFamily.ANTHROPIC,
                                               lambda: anthropic.ReplyTranslator("m")))
    try:
        yield await aiohttp_client(app)
    finally:
        await session.close()
        await server.close()


async def test_openai_streams_pass_through_byte_for_byte(client: Client) -> None:
    resp = await client.post("/v1/chat", json={"model": "m", "stream": True})
    assert (resp.status, resp.headers["Content-Type"]) == (200, "text/event-stream")
    assert resp.headers["X-Accel-Buffering"] == "no"
    assert await resp.read() == SSE_BODY


async def test_openai_refusals_and_whole_replies_pass_through(client: Client) -> None:
    refused = await client.post("/v1/chat", json={"model": "m", "refuse": True})
    assert refused.status == 400
    assert await refused.json() == {"error": {"message": "context too long"}}
    whole = await client.post("/v1/chat", json={"model": "m"})
    assert await whole.json() == WHOLE


async def test_openai_mid_stream_loss_is_an_sse_error_event(client: Client) -> None:
    resp = await client.post("/v1/chat", json={"model": "m", "stream": True, "die": True})
    first, error, rest = (await resp.read()).split(b"\n\n")
    assert first == SSE_BODY.split(b"\n\n")[0] and rest == b""
    assert error.startswith(b"data: ")
    assert json.loads(error[6:]) == {"error": {"message": LOST, "type": "internal_server_error",
                                               "param": None, "code": "model_server_lost"}}


async def test_ollama_streams_as_ndjson_and_ends_with_done(client: Client) -> None:
    resp = await client.post("/api/chat", json={"model": "m", "stream": True})
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in (await resp.read()).splitlines()]
    assert [line["message"]["content"] for line in lines] == ["Hel", "lo", ""]
    assert lines[-1]["done"] is True


async def test_ollama_mid_stream_loss_is_an_error_line(client: Client) -> None:
    resp = await client.post("/api/chat", json={"model": "m", "stream": True, "die": True})
    body = await resp.read()
    assert body.endswith(b"\n" + json.dumps({"error": LOST}).encode() + b"\n")
    assert json.loads(body.splitlines()[0])["message"]["content"] == "Hel"


async def test_ollama_whole_replies_and_refusals(client: Client) -> None:
    whole = await client.post("/api/chat", json={"model": "m"})
    assert whole.headers["Content-Type"] == "application/json; charset=utf-8"
    assert (await whole.json())["message"]["content"] == "Hello"
    refused = await client.post("/api/chat", json={"model": "m", "refuse": True})
    assert (refused.status, await refused.json()) == (400, {"error": "context too long"})


async def test_anthropic_streams_named_events(client: Client) -> None:
    resp = await client.post("/v1/messages", json={"model": "m", "stream": True})
    assert (resp.status, resp.headers["Content-Type"]) == (200, "text/event-stream")
    events = (await resp.read()).decode().split("\n\n")
    assert events[-1] == ""
    names = [event.split("\n")[0] for event in events[:-1]]
    assert names == ["event: message_start", "event: ping", "event: content_block_start",
                     "event: content_block_delta", "event: content_block_delta",
                     "event: content_block_stop", "event: message_delta", "event: message_stop"]


async def test_anthropic_mid_stream_loss_is_an_error_event(client: Client) -> None:
    resp = await client.post("/v1/messages", json={"model": "m", "stream": True, "die": True})
    events = (await resp.read()).decode().split("\n\n")
    assert events[-1] == ""
    name, data = events[-2].split("\n")
    assert name == "event: error"
    assert json.loads(data.removeprefix("data: ")) == {
        "type": "error", "error": {"type": "api_error", "message": LOST}}
    assert events[2].startswith("event: content_block_start")


async def test_anthropic_whole_replies_and_refusals(client: Client) -> None:
    whole = await client.post("/v1/messages", json={"model": "m"})
    message = await whole.json()
    assert message["content"] == [{"type": "text", "text": "Hello"}]
    assert message["stop_reason"] == "end_turn" and message["usage"] == {
        "input_tokens": 3, "output_tokens": 2}
    refused = await client.post("/v1/messages", json={"model": "m", "refuse": True})
    assert (refused.status, await refused.json()) == (400, {"type": "error", "error": {
        "type": "invalid_request_error", "message": "context too long"}})
