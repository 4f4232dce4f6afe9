"""companion/middleware/metrics: requests are counted with the status the client saw."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.auth import ApiTokenService
from companion.metrics import Metrics
from companion.middleware import setup_middlewares
from companion.middleware.access import public
from companion.middleware.hosts import allowed_hosts


def _count(metrics: Metrics, family: str, status: str) -> float:
    value = metrics.registry.get_sample_value(
        "bodhi_http_requests_total", {"family": family, "status": status})
    return value or 0.0


async def _server(aiohttp_server: Any, tokens: ApiTokenService, metrics: Metrics,
                  started: asyncio.Event) -> TestServer:
    @public
    async def endless_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: first\n\n")
        started.set()
        await asyncio.sleep(60)
        return response

    @public
    async def never_answers(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(60)
        return web.Response()

    app = web.Application()
    setup_middlewares(app, allowed_hosts=allowed_hosts("127.0.0.1", ""), max_body=1000,
                      tokens=tokens, metrics=metrics)
    app.router.add_get("/v1/stream", endless_stream)
    app.router.add_get("/v1/silent", never_answers)
    # The test server, like ``bodhi serve``, cancels the handler of a client that leaves.
    server: TestServer = await aiohttp_server(app)
    return server


async def _leave_early(server: TestServer, path: str, started: asyncio.Event) -> None:
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(started.wait(), 10)
    writer.close()
    await writer.wait_closed()


async def _until(check: Any) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.02)
    assert check()


async def test_a_stream_the_client_leaves_counts_with_its_sent_status(
        aiohttp_server: Any, tokens: ApiTokenService) -> None:
    metrics, started = Metrics(), asyncio.Event()
    server = await _server(aiohttp_server, tokens, metrics, started)
    await _leave_early(server, "/v1/stream", started)
    await _until(lambda: _count(metrics, "openai", "200") == 1)
    assert _count(metrics, "openai", "500") == 0


async def test_a_client_that_leaves_before_any_answer_counts_as_499(
        aiohttp_server: Any, tokens: ApiTokenService) -> None:
    metrics, started = Metrics(), asyncio.Event()
    server = await _server(aiohttp_server, tokens, metrics, started)
    await _leave_early(server, "/v1/silent", started)
    await _until(lambda: _count(metrics, "openai", "499") == 1)
    assert _count(metrics, "openai", "500") == 0
