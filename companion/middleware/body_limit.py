"""Refuse request bodies over the limit before reading them.

Every route takes bodies up to ``BODHI_MAX_REQUEST_BYTES`` (inference requests can be large).
Control routes declare a much smaller limit with ``@small_body`` (pairing, access requests,
consent, OAuth, sign-in, tokens, settings): a public endpoint such as pairing must not make
the server buffer megabytes. Their bodies must announce a Content-Length (every browser and
HTTP library does for a JSON or form body); bodies without one elsewhere are bounded by the
application's ``client_max_size`` when they are read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.core.errors import BadRequestError, PayloadTooLargeError

SMALL_BODY_BYTES = 64 * 1024
_ATTR = "__bodhi_body_limit__"

H = TypeVar("H", bound=Callable[..., Any])


def small_body(handler: H) -> H:
    return body_limit(SMALL_BODY_BYTES)(handler)


def body_limit(max_bytes: int) -> Callable[[H], H]:
    """A route's own limit, below the application's."""
    def mark(handler: H) -> H:
        setattr(handler, _ATTR, max_bytes)
        return handler

    return mark


def _route_limit(request: web.Request) -> int | None:
    match = request.match_info
    if match.http_exception is not None:
        return None
    limit: int | None = getattr(match.handler, _ATTR, None)
    return limit


def _check(length: int | None, limit: int) -> None:
    if length is not None and length > limit:
        raise PayloadTooLargeError(
            f"Request body of {length} bytes exceeds the limit of {limit} bytes.")


def body_limit_middleware(max_bytes: int) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        _check(length, max_bytes)
        small = _route_limit(request)
        if small is not None:
            if length is None and request.body_exists:
                raise BadRequestError("This endpoint needs a Content-Length.",
                                      code="length_required")
            _check(length, small)
        return await handler(request)

    return middleware
