"""``/metrics``: Prometheus text for power users (token or session)."""

from __future__ import annotations

from aiohttp import web

from companion.auth.principal import Role
from companion.middleware.access import requires
from companion.middleware.docs import documented
from companion.routes.keys import METRICS


@requires(Role.POWER_USER, all_models=True)
@documented("Prometheus metrics", media="text/plain", response={"type": "string"})
async def metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": content_type})


def setup(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
