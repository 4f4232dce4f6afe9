"""The loopback HTTP/1.1 client of the relay's hop to a child (``core/child_http.py``), against
real servers on loopback: aiohttp's (keep-alive, chunked and sized bodies) and a raw socket
server for what aiohttp would never send (a body that ends with the connection, a cut chunk,
a kept-alive connection closed under the next request, garbage)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.core.child_http import ChildConnections, ConnectFailed, ExchangeFailed
from companion.core.upstream import ChildClient, ChildLost, ChildUnreachable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _pool() -> ChildConnections:
    return ChildConnections(per_child=2, idle_secs=4.0, connect_secs=2.0)


@contextlib.asynccontextmanager
async def aiohttp_child() -> AsyncIterator[tuple[str, list[str]]]:
    """An aiohttp server that records the peer port of every request it gets."""
    peers: list[str] = []

    async def whole(request: web.Request) -> web.Response:
        peers.append(str(request.transport.get_extra_info("peername")[1]))  # type: ignore[union-attr]
        body = await request.read()
        return web.json_response({"got": len(body), "auth": request.headers.get("X-Key")})

    async def chunked(request: web.Request) -> web.StreamResponse:
        peers.append(str(request.transport.get_extra_info("peername")[1]))  # type: ignore[union-attr]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for n in range(3):
            await response.write(f"data: {n}\n\n".encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/whole", whole)
    app.router.add_get("/chunked", chunked)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), peers
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def raw_child(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


def answering(answer: bytes) -> Handler:
    """A server that reads one request, writes ``answer`` and closes."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()
    return handler


async def test_sized_and_chunked_replies_and_keep_alive_reuse() -> None:
    pool = _pool()
    async with aiohttp_child() as (url, peers):
        for _ in range(3):
            reply = await pool.request("POST", url + "/whole", {"X-Key": "k"}, b'{"a": 1}')
            assert reply.status == 200
            assert reply.headers["content-type"].startswith("application/json")
            assert await reply.read() == b'{"got": 8, "auth": "k"}'
            reply.release()
        assert len(set(peers)) == 1          # one connection, kept alive for all three

        reply = await pool.request("GET", url + "/chunked", {})
        pieces = [piece async for piece in reply.body()]
        assert b"".join(pieces) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
        reply.release()
        reply = await pool.request("POST", url + "/whole", {}, b"x" * 200_000)
        assert await reply.read() == b'{"got": 200000, "auth": null}'
        reply.release()
        assert len(set(peers)) == 1          # a chunked reply read to its end keeps it too
    await pool.close()


async def test_an_unfinished_or_closing_reply_never_goes_back_to_the_pool() -> None:
    pool = _pool()
    async with aiohttp_child() as (url, peers):
        reply = await pool.request("GET", url + "/chunked", {})
        reply.release()                                          # body not read: closed
        reply = await pool.request("POST", url + "/whole", {"Connection": "close"}, b"{}")
        await reply.read()
        reply.release()                                          # asked to close: closed
        reply = await pool.request("POST", url + "/whole", {}, b"{}")
        await reply.read()
        reply.release()
        assert len(set(peers)) == 3
    await pool.close()


async def test_a_body_that_ends_with_the_connection() -> None:
    pool = _pool()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    async with raw_child(answering(answer)) as url:
        reply = await pool.request("GET", url + "/", {})
        assert (reply.status, await reply.read()) == (200, b"all of it")
        reply.release()
    await pool.close()


async def test_a_kept_alive_connection_closed_under_the_next_request_is_retried_once() -> None:
    answered, dropped = [], []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        answered.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        # The next request on this connection finds it closing, as one whose keep-alive ran
        # out just then: read, then dropped without a word.
        await _read_request(reader)
        dropped.append(1)
        writer.transport.abort()

    pool = _pool()
    async with raw_child(handler) as url:
        for _ in range(3):
            reply = await pool.request("POST", url + "/", {}, b"{}")
            assert await reply.read() == b"ok"
            reply.release()
        assert (len(answered), len(dropped)) == (3, 2)
    await pool.close()


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",                 # cut inside the body
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",         # cut inside a chunk
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",          # not a chunk size
])
async def test_a_reply_cut_or_garbled_inside_its_body_is_lost(answer: bytes) -> None:
    pool = _pool()
    client = ChildClient(pool)
    async with raw_child(answering(answer)) as url:
        reply = await client.post_json(url + "/", b"{}", stream=False, auth={})
        with pytest.raises(ChildLost):
            _ = [chunk async for chunk in reply.chunks()]
        reply.finish()
    await pool.close()


@pytest.mark.parametrize("answer", [b"", b"SSH-2.0-OpenSSH\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n"])
async def test_no_reply_or_not_http_is_lost(answer: bytes) -> None:
    pool = _pool()
    async with raw_child(answering(answer)) as url:
        with pytest.raises(ExchangeFailed):
            await pool.request("POST", url + "/", {}, b"{}")
    await pool.close()


async def test_a_closed_port_is_unreachable_and_a_silent_child_times_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pool = _pool()
    client = ChildClient(pool)
    with pytest.raises(ChildUnreachable):
        await client.status(f"http://127.0.0.1:{port}/health", auth={}, limit_secs=2)
    with pytest.raises(ConnectFailed):
        await _pool().request("GET", f"http://127.0.0.1:{port}/", {})

    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    async with raw_child(silent) as url:
        with pytest.raises(ChildLost):
            await client.get_json(url + "/props", auth={}, limit_secs=0.2)
        done.set()
        await asyncio.sleep(0.05)
    await pool.close()


async def test_idle_connections_are_capped_and_dropped_when_stale() -> None:
    pool = ChildConnections(per_child=2, idle_secs=0.2, connect_secs=2.0)
    async with aiohttp_child() as (url, peers):
        replies = [await pool.request("POST", url + "/whole", {}, b"{}") for _ in range(3)]
        for reply in replies:
            await reply.read()
            reply.release()                      # three back, two kept
        for _ in range(3):
            reply = await pool.request("POST", url + "/whole", {}, b"{}")
            await reply.read()
            replies.append(reply)
        for reply in replies[3:]:
            reply.release()
        assert len(set(peers)) == 4              # the two kept were reused, one more made
        await asyncio.sleep(0.3)
        reply = await pool.request("POST", url + "/whole", {}, b"{}")
        await reply.read()
        reply.release()
        assert len(set(peers)) == 5              # idle too long: a new one
    await pool.close()


async def test_idle_connections_are_closed_when_they_expire_without_another_request() -> None:
    pool = ChildConnections(per_child=2, idle_secs=0.2, connect_secs=2.0)
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await reader.read()          # until the client closes its end
        closed.set()
        writer.close()

    async with raw_child(handler) as url:
        reply = await pool.request("GET", url + "/", {})
        await reply.read()
        reply.release()              # kept idle
        await asyncio.wait_for(closed.wait(), 2)
    await pool.close()
