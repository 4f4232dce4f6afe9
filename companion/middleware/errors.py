"""Render every failure as an error in the caller's API family; never leak internals."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.core.errors import (
    AuthenticationError,
    BadRequestError,
    BodhiError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
)
from companion.families import error_body, family_for

log = logging.getLogger(__name__)


def _from_http_exception(exc: web.HTTPException) -> BodhiError:
    """aiohttp's own refusals (no route, wrong method, body too big) in our tree."""
    reason = exc.reason
    if exc.status == 413:
        return PayloadTooLargeError("Request body is too large.")
    if exc.status == 404:
        return NotFoundError(f"Not found: {reason}", code="route_not_found")
    if exc.status == 401:
        return AuthenticationError(reason)
    if exc.status == 403:
        return ForbiddenError(reason)
    error: BodhiError = (BadRequestError(reason, code=f"http_{exc.status}") if exc.status < 500
                         else BodhiError(reason, code=f"http_{exc.status}"))
    error.status = exc.status
    return error


def render(request: web.Request, error: BodhiError) -> web.Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return web.json_response(error_body(family_for(request.path), error), status=error.status,
                             headers=headers)


def error_middleware() -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BodhiError as exc:
            if exc.status >= 500:
                log.warning("%s %s failed: %s", request.method, request.path, exc.code)
            return render(request, exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return render(request, _from_http_exception(exc))
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return render(request, BodhiError("Internal server error."))

    return middleware
