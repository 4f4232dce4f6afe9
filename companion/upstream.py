"""The one HTTP client seam: every call the companion makes upstream goes through here."""

from __future__ import annotations

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
