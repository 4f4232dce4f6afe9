"""HTTP/1.1 to the companion's own servers on loopback: llama.cpp children and MCP stdio bridges.

The relay's hop to a child is on every inference request, and aiohttp's client spent about a
third of the companion's time per small completion on it (URL objects, header multidicts,
tracing hooks, timers). These servers are ours, on 127.0.0.1, speaking plain HTTP/1.1, so this
client does only what they need: a request written in one piece on a kept-alive connection,
and a reply read by hand (status line, headers, then a ``Content-Length`` body, a chunked one,
or one that ends with the connection). Nothing here is meant for a server on the network.

``ChildConnections`` keeps at most ``per_child`` idle connections per server, and closes one
idle for ``idle_secs`` (below llama.cpp's own 5 s, so the child never closes one under a
request), whether or not another request comes. A connection goes back to the pool only when
its reply was read to the end and neither side asked to close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

# The longest status line plus headers a child may send.
_HEAD_LIMIT = 64 * 1024
_READ_SIZE = 64 * 1024


class ConnectFailed(Exception):
    """No connection: refused, timed out or otherwise not made."""


class ExchangeFailed(Exception):
    """The connection failed, or the server spoke something else than HTTP/1.1, after it
    was made."""


class _Unanswered(Exception):
    """The connection failed before a byte of the reply came back."""


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = field(default_factory=time.monotonic)

    def usable(self, now: float, idle_secs: float) -> bool:
        return (now - self.idle_since < idle_secs and not self.reader.at_eof()
                and not self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


def _split_url(url: str) -> tuple[str, int, str]:
    """``http://host:port/path?query`` -> host, port, target."""
    if not url.startswith("http://"):
        raise ValueError(f"not a plain http:// URL: {url!r}")
    authority, slash, rest = url[7:].partition("/")
    host, colon, port = authority.rpartition(":")
    if not colon or not port.isdigit():
        raise ValueError(f"no port in {url!r}")
    return host.strip("[]"), int(port), slash + rest if slash else "/"


class ChildResponse:
    """A reply whose head was read; ``body()`` yields the rest, ``close()`` or ``release()``
    ends it."""

    def __init__(self, pool: ChildConnections, key: tuple[str, int], conn: _Connection,
                 status: int, headers: dict[str, str], keep: bool) -> None:
        self._pool, self._key, self._conn = pool, key, conn
        self.status = status
        self.headers = headers
        self._chunked = headers.get("transfer-encoding", "").lower().endswith("chunked")
        length = headers.get("content-length")
        self._left: int | None = None
        if not self._chunked and length is not None:
            if not length.isdigit():
                raise ExchangeFailed("bad Content-Length")
            self._left = int(length)
        no_body = status in (204, 304) or 100 <= status < 200
        if no_body:
            self._left = 0
        # A body that ends with the connection cannot leave it reusable.
        self._keep = keep and (self._chunked or self._left is not None)
        self.at_eof = self._left == 0 and not self._chunked

    async def body(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises ``ExchangeFailed`` when the connection fails."""
        reader = self._conn.reader
        try:
            if self._chunked:
                async for piece in self._chunks(reader):
                    yield piece
            elif self._left is not None:
                while self._left > 0:
                    piece = await reader.read(min(self._left, _READ_SIZE))
                    if not piece:
                        raise ExchangeFailed("the connection closed inside the body")
                    self._left -= len(piece)
                    yield piece
            else:
                while piece := await reader.read(_READ_SIZE):
                    yield piece
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError) as exc:
            raise ExchangeFailed(type(exc).__name__) from exc
        self.at_eof = True

    async def _chunks(self, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return
            piece = await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise ExchangeFailed("a chunk did not end with CRLF")
            yield piece

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self.body()])

    def release(self) -> None:
        """Back to the pool when the body was read to the end and both sides keep it; else
        closed."""
        if self.at_eof and self._keep:
            self._pool.put(self._key, self._conn)
        else:
            self._conn.close()

    def close(self) -> None:
        self._conn.close()


class ChildConnections:
    """Kept-alive connections to loopback servers, per host and port. Make it with the event
    loop running; whoever made it awaits ``close()``."""

    def __init__(self, *, per_child: int, idle_secs: float, connect_secs: float) -> None:
        self._per_child = per_child
        self._idle_secs = idle_secs
        self._connect_secs = connect_secs
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None

    async def request(self, method: str, url: str, headers: dict[str, str],
                      body: bytes = b"") -> ChildResponse:
        """Send one request and read its reply's head. Raises ``ConnectFailed`` (no
        connection) or ``ExchangeFailed``.

        A kept-alive connection the server closed just before it was reused fails with
        nothing read back: the request goes once more on a new connection, as browsers do.
        """
        host, port, target = _split_url(url)
        key = (host, port)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        close = headers.get("Connection", "").lower() == "close"
        reused = self._take(key)
        if reused is not None:
            try:
                return await self._exchange(key, reused, head, body, close)
            except _Unanswered:
                pass
        try:
            return await self._exchange(key, await self._connect(host, port), head, body, close)
        except _Unanswered as exc:
            raise ExchangeFailed(str(exc.__cause__ or exc)) from exc

    async def _exchange(self, key: tuple[str, int], conn: _Connection, head: bytes,
                        body: bytes, close: bool) -> ChildResponse:
        try:
            try:
                conn.writer.write(head + body if len(body) < _READ_SIZE else head)
                if len(body) >= _READ_SIZE:
                    conn.writer.write(body)
                await conn.writer.drain()
                status, headers, keep = await self._read_head(conn.reader)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise ExchangeFailed("the reply's head was cut") from exc
                raise _Unanswered("the connection closed before a reply") from exc
            except OSError as exc:
                raise _Unanswered(type(exc).__name__) from exc
            except (asyncio.LimitOverrunError, ValueError) as exc:
                raise ExchangeFailed(type(exc).__name__) from exc
            return ChildResponse(self, key, conn, status, headers, keep and not close)
        except BaseException:
            conn.close()
            raise

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise ExchangeFailed("not an HTTP/1.x reply")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise ExchangeFailed("a header line without a colon")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        return int(rest[:3]), headers, keep

    def _take(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now, self._idle_secs):
                return conn
            conn.close()
        return None

    async def _connect(self, host: str, port: int) -> _Connection:
        if self._closed:
            raise ConnectFailed("the connections were closed")
        try:
            async with asyncio.timeout(self._connect_secs):
                reader, writer = await asyncio.open_connection(host, port, limit=_HEAD_LIMIT)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(type(exc).__name__) from exc
        return _Connection(reader, writer)

    def put(self, key: tuple[str, int], conn: _Connection) -> None:
        now = time.monotonic()
        idle = self._idle.setdefault(key, [])
        if self._closed or len(idle) >= self._per_child:
            conn.close()
            return
        conn.idle_since = now
        idle.append(conn)
        if self._timer is None:
            # Close idle connections when they expire even if no request comes to take
            # them: else they would sit half-closed once the child drops its end.
            self._timer = asyncio.get_running_loop().call_later(self._idle_secs, self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = time.monotonic()
        self._sweep(now)
        if self._idle and not self._closed:
            # Next when the oldest one left runs out, so none lives past ``idle_secs``.
            oldest = min(conn.idle_since for idle in self._idle.values() for conn in idle)
            self._timer = asyncio.get_running_loop().call_later(
                max(0.01, oldest + self._idle_secs - now + 0.01), self._expire)

    def _sweep(self, now: float) -> None:
        """Close connections idle too long, those of children long stopped included."""
        for key in list(self._idle):
            kept = []
            for conn in self._idle[key]:
                if conn.usable(now, self._idle_secs):
                    kept.append(conn)
                else:
                    conn.close()
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        writers = [conn.writer for idle in self._idle.values() for conn in idle]
        self._idle.clear()
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
