"""The listening socket, with a deadline for request headers.

aiohttp has no header-read timeout: a client that opens a connection and sends its request
line a byte at a time holds a socket (and a file descriptor) for as long as it likes, so a few
hundred such clients starve the server of descriptors — for llama.cpp children, SQLite and
the log as well. ``GuardedSite`` wraps each new connection until the end of its first
request's headers has arrived:

- a connection that has not sent complete headers within ``header_timeout`` is closed;
- at most ``max_pending`` connections may be waiting for their headers at once; one more is
  closed at once, so an attacker holds at most that many descriptors.

Once the headers are in, the wrapper hands the transport to aiohttp's own protocol and steps
out of the data path. Later requests on a kept-alive connection are bounded by aiohttp's
``keepalive_timeout`` (set in ``server.py``), which closes a connection whose next request
has not arrived in full within that time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)


@dataclass
class HeaderLimits:
    header_timeout: float
    max_pending: int
    pending: int = 0


class _AwaitingHeaders(asyncio.Protocol):
    """One connection until its first request's headers are complete."""

    def __init__(self, make_inner: Callable[[], asyncio.Protocol], limits: HeaderLimits
                 ) -> None:
        self._make_inner = make_inner
        self._inner: asyncio.Protocol = asyncio.Protocol()    # replaced once accepted
        self._limits = limits
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self._limits.pending >= self._limits.max_pending:
            log.warning("refused a connection: %d are still sending their request headers",
                        self._limits.pending)
            transport.abort()
            return
        self._limits.pending += 1
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(self._limits.header_timeout,
                                                            self._expire)
        self._inner = self._make_inner()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        window = self._tail + data
        self._tail = window[-2:]
        self._inner.data_received(data)
        # The header block ends with an empty line: CRLF CRLF, or bare LF LF.
        if (b"\n\n" in window or b"\n\r\n" in window) and self._transport is not None:
            transport, self._transport = self._transport, None
            self._release()
            transport.set_protocol(self._inner)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:       # refused connections never reached inner
            self._transport = None
            self._release()
            self._inner.connection_lost(exc)

    def _expire(self) -> None:
        self._timer = None
        if self._transport is not None:
            log.info("closed a connection that sent no complete request headers within %gs",
                     self._limits.header_timeout)
            self._transport.abort()

    def _release(self) -> None:
        self._limits.pending -= 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class GuardedSite(web.BaseSite):
    """A TCP site whose connections must send their request headers in time."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *,
                 header_timeout: float, max_pending: int) -> None:
        super().__init__(runner)
        self._host, self._port = host, port
        self._limits = HeaderLimits(header_timeout, max_pending)
        self._handler_factory: Callable[[], asyncio.Protocol] | None = runner.server

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        factory = self._handler_factory
        assert factory is not None
        limits = self._limits
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _AwaitingHeaders(factory, limits), self._host, self._port,
            reuse_address=True)
