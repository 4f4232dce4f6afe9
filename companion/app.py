"""The composition root: build every service from the settings and wire the web app."""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import AsyncIterator

from aiohttp import web

from companion import __version__
from companion.auth import ApiTokenService, ensure_owner_secret
from companion.inference import LaunchConfig, LlamaPool
from companion.inference.service import InferenceService
from companion.middleware import setup_middlewares
from companion.middleware.hosts import allowed_hosts
from companion.models import ModelCatalog
from companion.routes import setup_routes
from companion.routes.keys import INFERENCE, SERVER_INFO, ServerInfo
from companion.settings import Settings
from companion.storage import ApiTokenRepository, ChangeWatch, Database
from companion.upstream import CHILD_HTTP_THREADS, make_client, make_local_session

DB_FILE = "bodhi.sqlite"
TOKEN_USE_FLUSH_SECS = 10.0

log = logging.getLogger(__name__)


async def _flush_periodically(tokens: ApiTokenService) -> None:
    while True:
        await asyncio.sleep(TOKEN_USE_FLUSH_SECS)
        try:
            await tokens.flush_last_used()
        except Exception:
            log.exception("could not record API token use")


def public_url(settings: Settings) -> str:
    host = settings["BODHI_PUBLIC_HOST"] or settings["BODHI_HOST"]
    if host in {"0.0.0.0", "::", ""}:
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings['BODHI_PORT']}"


def launch_config(settings: Settings) -> LaunchConfig:
    return LaunchConfig(
        llama_server=settings["BODHI_LLAMA_SERVER"],
        default_flags=tuple(shlex.split(settings["BODHI_LLAMACPP_ARGS"])),
        log_dir=settings.home / "logs",
        ready_timeout=float(settings["BODHI_LLAMA_READY_TIMEOUT_SECS"]),
        threads_http=CHILD_HTTP_THREADS,
    )


async def build_app(settings: Settings) -> web.Application:
    home = settings.home
    ensure_owner_secret(home)
    (home / "aliases").mkdir(parents=True, exist_ok=True)
    db = await Database.open(home / DB_FILE)
    watch = ChangeWatch(db.path)
    tokens = ApiTokenService(ApiTokenRepository(db), watch)
    client = make_client()
    pool = LlamaPool(launch_config(settings), client,
                     keep_alive_secs=lambda: int(settings["BODHI_KEEP_ALIVE_SECS"]))
    catalog = ModelCatalog(home / "aliases", settings.hf_home / "hub")

    app = web.Application(client_max_size=settings["BODHI_MAX_REQUEST_BYTES"])
    setup_middlewares(app, tokens=tokens, max_body=settings["BODHI_MAX_REQUEST_BYTES"],
                      allowed_hosts=allowed_hosts(settings["BODHI_HOST"],
                                                  settings["BODHI_PUBLIC_HOST"]))
    local = make_local_session()
    app[INFERENCE] = InferenceService(catalog, pool, local)
    app[SERVER_INFO] = ServerInfo(__version__, public_url(settings))
    setup_routes(app)

    async def record_token_use(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_flush_periodically(tokens), name="token-last-used")
        yield
        task.cancel()
        await tokens.flush_last_used()

    async def stop_children(_: web.Application) -> None:
        await pool.stop_all()

    async def close(_: web.Application) -> None:
        await client.aclose()
        await local.close()
        await db.close()
        watch.close()

    app.cleanup_ctx.append(record_token_use)
    app.on_shutdown.append(stop_children)
    app.on_cleanup.append(close)
    return app
