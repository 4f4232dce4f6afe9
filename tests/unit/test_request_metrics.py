"""companion/middleware/metrics: requests are counted with the status the client saw."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.auth import ApiTokenService
from companion.core.metrics import Metrics
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


@pytest.mark.parametrize(("path", "status"), [
    ("/v1/stream", "200"),  # a stream the client leaves counts with the status it was sent
    ("/v1/silent", "499"),  # a client that leaves before any answer
])
async def test_a_client_that_leaves_counts_with_what_it_was_sent(
        aiohttp_server: Any, tokens: ApiTokenService, path: str, status: str) -> None:
    metrics, started = Metrics(), asyncio.Event()
    server = await _server(aiohttp_server, tokens, metrics, started)
    await _leave_early(server, path, started)
    await _until(lambda: _count(metrics, "openai", status) == 1)
    assert _count(metrics, "openai", "500") == 0
