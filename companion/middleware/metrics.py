"""Count every answered request by API family and status code."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.metrics import Metrics
from companion.middleware.families import family_for


def request_metrics_middleware(metrics: Metrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        family = family_for(request.path).value
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            metrics.request(family, exc.status)
            raise
        except BaseException:
            metrics.request(family, 500)
            raise
        metrics.request(family, response.status)
        return response

    return middleware
