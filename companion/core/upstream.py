"""The one HTTP client seam: every client the companion calls upstream with is made here.

Each made once by the composition root, injected, and closed by it: ``make_client`` (httpx)
for the identity provider and everything else upstream, ``make_child_session`` (the
loopback HTTP/1.1 connections of ``core/child_http.py``) wrapped in ``ChildClient`` for our
own llama.cpp children, both the relay and the health poll, and ``make_provider_session``
(aiohttp's client) wrapped in ``ProviderClient`` for remote API providers (OpenAI,
Anthropic, Gemini and anything speaking their formats). A test hands any of them a real local
server.
The MCP SDK's own client needs ``httpx2``: ``make_mcp_client`` makes one per MCP session.
httpx and httpx2 are imported on first use (``LazyClient``): with their certificate stores
they cost a tenth of a second and several MB at start, and many companions never use them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from companion.core.child_http import (
    ChildConnections,
    ChildResponse,
    ConnectFailed,
    ExchangeFailed,
)

if TYPE_CHECKING:
    import httpx
    import httpx2

# Idle pooled connections per llama.cpp child. Each one holds an HTTP thread in the child
# until its keep-alive timeout, so children get this many HTTP threads plus headroom.
KEEPALIVE_CONNECTIONS = 8
CHILD_HTTP_THREADS = KEEPALIVE_CONNECTIONS + 4


def make_mcp_client(headers: dict[str, str]) -> httpx2.AsyncClient:
    """For the MCP SDK's Streamable HTTP client: one MCP session, closed with it."""
    import httpx2

    return httpx2.AsyncClient(headers=headers, trust_env=False,
                              timeout=httpx2.Timeout(10.0, read=300.0))


def make_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(
        transport=transport,
        limits=httpx.Limits(max_connections=None,
                            max_keepalive_connections=KEEPALIVE_CONNECTIONS,
                            keepalive_expiry=4.0),
        # Generation on a CPU may take minutes; the read timeout is the child's business.
        timeout=httpx.Timeout(connect=5.0, read=None, write=60.0, pool=None),
        trust_env=False,
    )


class LazyClient:
    """``make_client``'s client, made on first call; whoever made this closes it."""

    def __init__(self, make: Callable[[], httpx.AsyncClient] = make_client) -> None:
        self._make = make
        self._client: httpx.AsyncClient | None = None

    def __call__(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._make()
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class ChildUnreachable(Exception):
    """The child refused the connection: it may have died since it was last seen ready."""


class ChildLost(Exception):
    """The connection to the child failed while sending or reading."""


class ChildReply:
    """A child's reply whose body has not been read yet."""

    def __init__(self, response: ChildResponse) -> None:
        self._response = response
        self.status = response.status
        self.content_type: str = response.headers.get("content-type", "application/json")

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises ``ChildLost`` if the child goes away."""
        try:
            async for chunk in self._response.body():
                yield chunk
        except ExchangeFailed as exc:
            raise ChildLost(str(exc)) from exc

    def finish(self) -> None:
        # Back to the pool only when read to the end and kept alive: llama.cpp closes the
        # connection after a streamed reply while announcing keep-alive, so a stream is sent
        # with ``Connection: close``; an unfinished reply is closed too.
        self._response.release()


def make_child_session() -> ChildConnections:
    """The connections for ``ChildClient``; call it with the event loop running.

    At most ``KEEPALIVE_CONNECTIONS`` idle connections per child, so idle pooled ones never
    hold more of the child's HTTP threads than it has; idle ones are dropped before
    llama.cpp's own 5 s.
    """
    return ChildConnections(per_child=KEEPALIVE_CONNECTIONS, idle_secs=4.0, connect_secs=5.0)


class ChildClient:
    """The hot path to our own llama.cpp children (and the health poll of MCP stdio bridges)
    on loopback, through ``core/child_http.py``: a hand-written HTTP/1.1 exchange that costs
    a fraction of aiohttp's client per request, which was most of what the companion added to
    a small completion. Everything else upstream uses ``make_client`` or the provider
    session. Whoever made the connections (``make_child_session``) closes them.
    """

    def __init__(self, session: ChildConnections) -> None:
        self._session = session

    async def _get(self, url: str, auth: dict[str, str], limit_secs: float
                   ) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(limit_secs):
                reply = await self._session.request("GET", url, auth)
                try:
                    body = await reply.read()
                finally:
                    reply.release()
        except ConnectFailed as exc:
            raise ChildUnreachable(str(exc)) from exc
        except (ExchangeFailed, TimeoutError) as exc:
            raise ChildLost(type(exc).__name__) from exc
        return reply.status, body

    async def status(self, url: str, *, auth: dict[str, str], limit_secs: float) -> int:
        """The status of a GET (the health poll); raises ``ChildUnreachable``/``ChildLost``."""
        return (await self._get(url, auth, limit_secs))[0]

    async def get_json(self, url: str, *, auth: dict[str, str], limit_secs: float) -> Any:
        """A small JSON document (``/props``); raises ``ChildUnreachable``/``ChildLost``."""
        status, body = await self._get(url, auth, limit_secs)
        if status >= 400:
            raise ChildLost(f"status {status}")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ChildLost(type(exc).__name__) from exc

    async def post_json(self, url: str, payload: bytes, *, stream: bool,
                        auth: dict[str, str]) -> ChildReply:
        """``auth``: the child's key header; a child refuses every request without it."""
        headers = {"Content-Type": "application/json", **auth}
        if stream:
            headers["Connection"] = "close"
        try:
            response = await self._session.request("POST", url, headers, payload)
        except ConnectFailed as exc:
            raise ChildUnreachable(str(exc)) from exc
        except ExchangeFailed as exc:
            raise ChildLost(str(exc)) from exc
        return ChildReply(response)


class ProviderUnreachable(Exception):
    """No connection to the provider: refused, DNS failed, TLS failed or timed out."""


class ProviderLost(Exception):
    """The connection to the provider failed while sending or reading."""


class ProviderReply:
    """A provider's reply whose body has not been read yet; ``finish`` releases it."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.content_type: str = response.headers.get("content-type", "application/json")
        self.retry_after: str | None = response.headers.get("retry-after")

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, never buffered; raises ``ProviderLost`` when cut."""
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except aiohttp.ClientError as exc:
            raise ProviderLost(type(exc).__name__) from exc

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    def finish(self) -> None:
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()  # an unread reply must not go back to the pool


def make_provider_session() -> aiohttp.ClientSession:
    """The session for ``ProviderClient``; call it with the event loop running.

    Connecting gets 10 s; reading has no limit, since a remote model may think for minutes
    before its first token and a stream may run longer still.
    """
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=32, keepalive_timeout=30.0)
    return aiohttp.ClientSession(
        connector=connector, trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None, connect=10.0, sock_connect=10.0))


class ProviderClient:
    """Calls on remote API providers. Whoever made the session closes it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def send(self, method: str, url: str, *, headers: dict[str, str],
                   payload: bytes | None = None, query: dict[str, str] | None = None
                   ) -> ProviderReply:
        """Raises ``ProviderUnreachable`` (no connection) or ``ProviderLost``."""
        sent = {"Content-Type": "application/json", **headers} if payload is not None \
            else headers
        try:
            response = await self._session.request(method, url, data=payload, headers=sent,
                                                   params=query or None)
        except (aiohttp.ClientConnectorError, TimeoutError) as exc:
            raise ProviderUnreachable(type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise ProviderLost(type(exc).__name__) from exc
        return ProviderReply(response)
