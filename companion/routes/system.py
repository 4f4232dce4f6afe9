"""Public system routes: liveness, readiness and server info."""

from __future__ import annotations

from aiohttp import web

from companion.core.errors import ServiceUnavailableError
from companion.middleware.access import optional_auth, public
from companion.middleware.docs import documented
from companion.routes.keys import DATABASE, IDENTITY, SERVER_INFO
from companion.routes.replies import ServerInfoOut, shaped

# How soon a client may ask /health again after "not ready".
RETRY_AFTER_SECS = 5


@public
@documented("Liveness: the process answers")
async def ping(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"message": "pong"})


@public
@documented("Readiness: the database answers with every migration applied", errors=(503,))
async def health(request: web.Request) -> web.Response:
    """Readiness: 200 only while the database answers with every migration applied."""
    problem = await request.app[DATABASE].problem()
    if problem is not None:
        raise ServiceUnavailableError(f"Not ready: {problem}.", code="not_ready",
                                      retry_after=RETRY_AFTER_SECS)
    info = request.app[SERVER_INFO]
    return web.json_response({"status": "ok", "version": info.version})


@optional_auth
@documented("Server version, setup status, sign-in mode and URL",
            response=ServerInfoOut)
async def info(request: web.Request) -> web.Response:
    server = request.app[SERVER_INFO]
    state = await request.app[IDENTITY].setup.state()
    return web.json_response(shaped(ServerInfoOut, {
        "version": server.version, "status": state.status.value,
        "auth_mode": state.auth_mode.value, "name": state.name, "url": server.url}))


def setup(app: web.Application) -> None:
    app.router.add_get("/ping", ping)
    app.router.add_get("/health", health)
    app.router.add_get("/bodhi/v1/info", info)
