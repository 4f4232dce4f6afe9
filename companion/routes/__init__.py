"""HTTP routes, one module per API family. Handlers parse, call one service, serialise."""

from __future__ import annotations

from aiohttp import web

from companion.routes import apps, events, identity, oauth, openai, settings, system, tokens, users


def setup_routes(app: web.Application) -> None:
    system.setup(app)
    openai.setup(app)
    identity.setup_routes(app)
    users.setup_routes(app)
    tokens.setup_routes(app)
    settings.setup_routes(app)
    apps.setup(app)
    oauth.setup(app)
    events.setup(app)
