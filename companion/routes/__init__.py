"""HTTP routes, one module per API family. Handlers parse, call one service, serialise."""

from __future__ import annotations

from aiohttp import web

from companion.routes import (
    anthropic,
    api_docs,
    api_models,
    apps,
    downloads,
    events,
    gemini,
    identity,
    mcp_oauth,
    mcp_proxy,
    mcps,
    metrics,
    models,
    oauth,
    ollama,
    ollama_models,
    openai,
    owner,
    settings,
    system,
    tokens,
    users,
    web_ui,
)


def setup_routes(app: web.Application) -> None:
    system.setup(app)
    openai.setup(app)
    identity.setup(app)
    owner.setup(app)
    users.setup(app)
    tokens.setup(app)
    settings.setup(app)
    apps.setup(app)
    oauth.setup(app)
    events.setup(app)
    api_models.setup(app)
    models.setup(app)
    downloads.setup(app)
    ollama.setup(app)
    ollama_models.setup(app)
    anthropic.setup(app)
    gemini.setup(app)
    mcp_oauth.setup(app)
    mcps.setup(app)
    mcp_proxy.setup(app)
    metrics.setup(app)
    api_docs.setup(app)
    web_ui.setup(app)
