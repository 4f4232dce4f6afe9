"""The composition root: build every service from the settings and wire the web app."""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from companion import __version__
from companion.access import AppServices
from companion.auth import ApiTokenService, ensure_owner_secret
from companion.auth.identity import checked_box, open_identity
from companion.auth.owner_challenges import OwnerChallenges
from companion.core.events import (
    DOWNLOAD_UPDATED,
    MODELS_CHANGED,
    MODELS_LOADED,
    POWER_USERS,
    EventBus,
)
from companion.core.home import private_dir
from companion.core.metrics import Metrics
from companion.core.owner_secret import read_owner_secret
from companion.core.runtime_settings import RuntimeSettings
from companion.core.secrets_box import SecretBox
from companion.core.settings import Settings, public_url
from companion.core.upstream import (
    CHILD_HTTP_THREADS,
    ChildClient,
    LazyClient,
    ProviderClient,
    make_child_session,
    make_mcp_client,
    make_provider_session,
)
from companion.inference import LaunchConfig, LlamaPool
from companion.inference.pool import PoolLimits
from companion.inference.process import LlamaProcess
from companion.inference.service import InferenceService
from companion.mcp.calls import McpCalls
from companion.mcp.instances import McpInstanceService
from companion.mcp.oauth import McpOAuth
from companion.mcp.proxy import McpProxy
from companion.mcp.servers import McpServerService
from companion.mcp.stdio_process import StdioServers
from companion.mcp.upstream import McpUpstreams
from companion.middleware import setup_middlewares
from companion.middleware.hosts import allowed_hosts
from companion.models import ModelCatalog
from companion.models.alias_store import AliasStore
from companion.models.downloads import DownloadService
from companion.models.files import ModelFiles
from companion.providers import (
    ApiModelService,
    Cooldowns,
    ProviderCalls,
    RemoteModels,
    RouterAliasService,
)
from companion.routes import setup_routes
from companion.routes.downloads import job_json
from companion.routes.keys import (
    APPS,
    DATABASE,
    IDENTITY,
    INFERENCE,
    MCPS,
    METRICS,
    MODELS,
    OWNER_CHALLENGES,
    REMOTE_MODELS,
    RUNTIME_SETTINGS,
    SERVER_INFO,
    TOKENS,
    McpServices,
    ModelServices,
    ServerInfo,
)
from companion.storage import ApiTokenRepository, ChangeWatch, Database, SettingOverrideRepository
from companion.storage.api_models import ApiModelRepository, RouterAliasRepository
from companion.storage.downloads import DownloadRepository
from companion.storage.mcp import McpInstanceRepository, McpServerRepository

TOKEN_USE_FLUSH_SECS = 10.0
PURGE_EVERY_SECS = 3600.0

log = logging.getLogger(__name__)


def _every(secs: float, name: str, work: Callable[[], Awaitable[None]], *,
           at_start: bool = False) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running ``work`` every ``secs`` while the app runs (and first at start
    when ``at_start``), and once at the end (so batched writes such as last-use times are not
    lost on shutdown)."""

    async def run_once() -> None:
        try:
            await work()
        except Exception:
            log.exception("periodic %s failed", name)

    async def loop() -> None:
        while True:
            await asyncio.sleep(secs)
            await run_once()

    async def context(_: web.Application) -> AsyncIterator[None]:
        if at_start:
            await run_once()
        task = asyncio.create_task(loop(), name=name)
        yield
        task.cancel()
        await work()

    return context


def pool_limits(settings: Settings) -> PoolLimits:
    return PoolLimits(
        max_loaded=lambda: settings.max_loaded_models,
        memory_budget_bytes=lambda: settings.model_memory_budget_mb * 2**20,
        max_requests_per_model=lambda: settings.max_requests_per_model,
        queue_per_model=lambda: settings.queue_per_model,
        wait_secs=settings.model_wait_secs)




def model_services(settings: Settings, db: Database, catalog: ModelCatalog,
                   metrics: Metrics, bus: EventBus) -> ModelServices:
    hub = settings.hf_home / "hub"
    downloads = DownloadService(DownloadRepository(db), hub,
                                concurrency=settings.max_downloads,
                                on_bytes=metrics.downloaded, on_complete=catalog.refresh,
                                on_update=lambda job: bus.publish(
                                    DOWNLOAD_UPDATED, job_json(job), audience=POWER_USERS))
    return ModelServices(catalog, ModelFiles(hub),
                         AliasStore(settings.home / "aliases", catalog), downloads)


def loaded_changed(bus: EventBus) -> Callable[[LlamaPool, LlamaProcess], None]:
    """``models.loaded``: a child's state and load as the Loaded view shows them."""
    def publish(pool: LlamaPool, process: LlamaProcess) -> None:
        state = "unloading" if pool.is_evicting(process.alias) else process.state.value
        bus.publish(MODELS_LOADED, {"alias": process.alias, "state": state,
                                    "in_flight": process.in_flight,
                                    "queued": pool.queued(process.alias)},
                    audience=POWER_USERS)

    return publish


def launch_config(settings: Settings) -> LaunchConfig:
    return LaunchConfig(
        llama_server=settings.llama_server,
        default_flags=tuple(shlex.split(settings.llamacpp_args)),
        log_dir=settings.home / "logs",
        ready_timeout=settings.llama_ready_timeout_secs,
        threads_http=CHILD_HTTP_THREADS,
    )


async def _maintain_apps(apps: AppServices) -> None:
    await apps.flush_last_used()
    await apps.requests.expire_drafts()


def _purge_app_records(apps: AppServices, settings: Settings) -> Callable[[], Awaitable[None]]:
    """Delete ended app records (codes, tokens, requests, grants); see ``AppServices.purge``."""
    async def purge() -> None:
        keep = settings.app_history_days * 24 * 3600
        purged = await apps.purge(int(time.time()), keep)
        if purged:
            log.info("purged ended app records: %s", purged)

    return purge


def mcp_services(db: Database, box: SecretBox, http: LazyClient,
                 children: ChildClient, log_dir: Path,
                 keep_alive_secs: Callable[[], int]) -> McpServices:
    stdio = StdioServers(log_dir, children, keep_alive_secs)

    async def server_changed(server_id: str) -> None:
        await stdio.stop(server_id)  # an edited or removed stdio server stops at once

    servers = McpServerService(McpServerRepository(db), box, on_change=server_changed)
    instances = McpInstanceService(McpInstanceRepository(db), servers, box)
    oauth = McpOAuth(servers, instances, http)
    upstreams = McpUpstreams(servers, instances, stdio, oauth.access_token)
    return McpServices(servers, instances, McpProxy(instances, upstreams, http),
                       McpCalls(instances, upstreams, make_mcp_client), oauth, stdio)


async def remote_models(settings: Settings, db: Database, box: SecretBox,
                        catalog: ModelCatalog, client: ProviderClient,
                        on_change: Callable[[], None]) -> RemoteModels:
    """API model records and router aliases, read into memory, and the provider calls."""
    routers: RouterAliasService | None = None
    api = ApiModelService(ApiModelRepository(db), box, catalog,
                          router_names=lambda: routers.names() if routers else (),
                          on_change=on_change)
    routers = RouterAliasService(RouterAliasRepository(db), catalog, api,
                                 Cooldowns(lambda: settings.router_cooldown_secs), on_change)
    await api.load()
    await routers.load()
    return RemoteModels(api, routers, ProviderCalls(client))


async def build_app(settings: Settings) -> web.Application:
    home = settings.home
    ensure_owner_secret(home)
    private_dir(home / "aliases")
    db = await Database.open(settings.db_path)
    watch = ChangeWatch(db.path)
    tokens = ApiTokenService(ApiTokenRepository(db), watch)
    box = await checked_box(home, settings.encryption_key, db)
    # The upstream clients (core/upstream.py), made once here and closed in ``close``.
    http, child_session = LazyClient(), make_child_session()
    provider_session = make_provider_session()
    children = ChildClient(child_session)
    metrics, bus = Metrics(), EventBus()
    identity = await open_identity(settings, db, tokens, box, http, bus)
    runtime = RuntimeSettings(settings, SettingOverrideRepository(db), {
        Settings.log_level.name: lambda level: logging.getLogger().setLevel(level)})
    await runtime.load()
    publish_loaded = loaded_changed(bus)
    pool = LlamaPool(launch_config(settings), children,
                     keep_alive_secs=lambda: settings.keep_alive_secs,
                     limits=pool_limits(settings), on_load=metrics.model_loaded,
                     on_change=lambda process: publish_loaded(pool, process),
                     on_queue=metrics.queue_length, on_wait=metrics.queue_wait)
    metrics.count_loaded(lambda: len(pool.loaded()))
    remote: RemoteModels | None = None

    def models_changed(local: list[str]) -> None:
        """One event for every name a request may use, local or remote."""
        names = local + (remote.api.names() + list(remote.routers.names()) if remote else [])
        bus.publish(MODELS_CHANGED, {"models": names})

    catalog = ModelCatalog(home / "aliases", settings.hf_home / "hub", on_change=models_changed)
    models = model_services(settings, db, catalog, metrics, bus)
    remote = await remote_models(
        settings, db, box, catalog, ProviderClient(provider_session),
        on_change=lambda: models_changed([m.alias for m in catalog.list()]))
    mcps = mcp_services(db, box, http, children, home / "logs",
                        lambda: settings.mcp_keep_alive_secs)
    apps = AppServices.build(db, home, public_url(settings), bus,
                             token_secs=settings.app_token_secs, mcp=mcps.instances,
                             activity_keep=lambda: settings.app_activity_per_grant)

    app = web.Application(client_max_size=settings.max_request_bytes)
    setup_middlewares(app, tokens=tokens, max_body=settings.max_request_bytes,
                      metrics=metrics,
                      allowed_hosts=allowed_hosts(settings.host, settings.public_host),
                      sessions=identity.sessions.principal,
                      verifiers=[apps.extension.verify, apps.tokens.verify],
                      origin_allowed=apps.grants.origin_has_grant,
                      app_calls=apps.activity.record)
    app[IDENTITY], app[TOKENS], app[RUNTIME_SETTINGS] = identity, tokens, runtime
    app[APPS], app[MODELS], app[METRICS], app[MCPS] = apps, models, metrics, mcps
    app[INFERENCE] = InferenceService(catalog, pool, children, metrics, remote)
    app[REMOTE_MODELS] = remote
    app[SERVER_INFO] = ServerInfo(__version__, public_url(settings))
    app[DATABASE] = db
    app[OWNER_CHALLENGES] = OwnerChallenges(read_owner_secret(home), public_url(settings))
    setup_routes(app)

    async def run_downloads(_: web.Application) -> AsyncIterator[None]:
        await models.downloads.start()
        yield

    async def stop_work(_: web.Application) -> None:
        await models.downloads.stop()
        await asyncio.gather(pool.stop_all(), mcps.stdio.stop_all())

    async def close(_: web.Application) -> None:
        await asyncio.gather(http.aclose(), child_session.close(), provider_session.close(),
                             identity.close())
        await db.close()
        watch.close()
        apps.close()

    app.cleanup_ctx.extend([
        _every(TOKEN_USE_FLUSH_SECS, "token-last-used", tokens.flush_last_used),
        _every(TOKEN_USE_FLUSH_SECS, "apps-maintenance", lambda: _maintain_apps(apps)),
        _every(PURGE_EVERY_SECS, "apps-purge", _purge_app_records(apps, settings),
               at_start=True),
        run_downloads])
    app.on_shutdown.append(stop_work)
    app.on_cleanup.append(close)
    return app
