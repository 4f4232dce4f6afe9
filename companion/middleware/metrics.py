"""Count every answered request by API family and status code."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.core.metrics import Metrics
from companion.families import family_for

# The status a response went out with, kept for handlers cancelled afterwards.
_SENT_STATUS = web.RequestKey("sent_status", int)
# What nginx logs for a client that left before it was answered.
CLIENT_CLOSED = 499


async def remember_sent_status(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: the status is on the wire from here on."""
    if isinstance(request, web.Request):
        request[_SENT_STATUS] = response.status


def sent_status(request: web.Request, default: int) -> int:
    """The status a response already went out with, or ``default`` before one did."""
    status: int = request.get(_SENT_STATUS, default)
    return status


def request_metrics_middleware(metrics: Metrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        family = family_for(request.path).value.name
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            metrics.request(family, exc.status)
            raise
        except asyncio.CancelledError:
            # The client went away: a stream it read to the end is cancelled while the
            # handler tidies up, and still counts with the status it was sent.
            metrics.request(family, request.get(_SENT_STATUS, CLIENT_CLOSED))
            raise
        except BaseException:
            metrics.request(family, 500)
            raise
        metrics.request(family, response.status)
        return response

    return middleware
