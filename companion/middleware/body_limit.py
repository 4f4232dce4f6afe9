"""Refuse request bodies over the limit before reading them.

Bodies without a Content-Length (chunked) are bounded by the application's
``client_max_size`` when they are read.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.errors import PayloadTooLargeError


def body_limit_middleware(max_bytes: int) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_bytes:
            raise PayloadTooLargeError(
                f"Request body of {length} bytes exceeds the limit of {max_bytes} bytes.")
        return await handler(request)

    return middleware
