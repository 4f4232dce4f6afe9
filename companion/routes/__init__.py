"""HTTP routes, one module per API family. Handlers parse, call one service, serialise."""

from __future__ import annotations

from aiohttp import web

from companion.routes import downloads, metrics, models, ollama, openai, system


def setup_routes(app: web.Application) -> None:
    system.setup(app)
    openai.setup(app)
    models.setup(app)
    downloads.setup(app)
    ollama.setup(app)
    metrics.setup(app)
