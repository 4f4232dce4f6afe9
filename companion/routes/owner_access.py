"""Routes only the owner's own programs may call: requests proven with the owner secret.

``@owner_only`` takes a handler out of the cookie and token chain (it is ``@public`` there:
no session or token counts) and checks instead the ``X-Bodhi-Owner-Nonce`` and
``X-Bodhi-Owner-Proof`` headers against a server nonce from ``POST /bodhi/v1/owner/challenge``
(``companion.core.owner_proof``). A web page cannot compute the proof, so no CSRF check is
needed; bodies are small and read once for the proof.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from companion.core.owner_proof import NONCE_HEADER, PROOF_HEADER
from companion.middleware.access import public
from companion.middleware.body_limit import small_body
from companion.routes.keys import OWNER_CHALLENGES

R = TypeVar("R", bound=web.StreamResponse)
_ATTR = "__bodhi_owner_only__"


def owner_only(handler: Callable[[web.Request], Awaitable[R]]
               ) -> Callable[[web.Request], Awaitable[R]]:
    @functools.wraps(handler)
    async def proven(request: web.Request) -> R:
        request.app[OWNER_CHALLENGES].verify(
            request.headers.get(NONCE_HEADER, ""), request.headers.get(PROOF_HEADER, ""),
            request.method, request.raw_path, await request.read())
        return await handler(request)

    setattr(proven, _ATTR, True)
    return public(small_body(proven))


def is_owner_only(handler: object) -> bool:
    return bool(getattr(handler, _ATTR, False))
