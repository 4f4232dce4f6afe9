"""HTTP routes, one module per API family. Handlers parse, call one service, serialise."""

from __future__ import annotations

from aiohttp import web

from companion.routes import apps, events, oauth, openai, system


def setup_routes(app: web.Application) -> None:
    system.setup(app)
    openai.setup(app)
    apps.setup(app)
    oauth.setup(app)
    events.setup(app)
