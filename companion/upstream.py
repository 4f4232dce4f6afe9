"""The one HTTP client seam: every call the companion makes upstream goes through here."""

from __future__ import annotations

import aiohttp
import httpx

# Idle pooled connections per llama.cpp child. Each one holds an HTTP thread in the child
# until its keep-alive timeout, so children get this many HTTP threads plus headroom.
KEEPALIVE_CONNECTIONS = 8
CHILD_HTTP_THREADS = KEEPALIVE_CONNECTIONS + 4


def make_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport,
        limits=httpx.Limits(max_connections=None,
                            max_keepalive_connections=KEEPALIVE_CONNECTIONS,
                            keepalive_expiry=4.0),
        # Generation on a CPU may take minutes; the read timeout is the child's business.
        timeout=httpx.Timeout(connect=5.0, read=None, write=60.0, pool=None),
        trust_env=False,
    )


def make_local_session() -> aiohttp.ClientSession:
    """The client for the hot path to our own llama.cpp children on loopback.

    aiohttp's client costs a fraction of httpx's per request (about 0.3 ms against 1 ms on
    this machine), which is most of what the companion adds to a small completion. At most
    ``KEEPALIVE_CONNECTIONS`` connections per child, so idle pooled ones never hold more of
    the child's HTTP threads than it has; idle ones are dropped before llama.cpp's own 5 s.
    """
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=KEEPALIVE_CONNECTIONS,
                                     keepalive_timeout=4.0, use_dns_cache=False)
    return aiohttp.ClientSession(
        connector=connector, auto_decompress=False, trust_env=False,
        # Generation on a CPU may take minutes; the read timeout is the child's business.
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5.0))
