"""A small real app for the apps tests: the real middleware, routes and services.

To keep this tier free of the session store, the bearer value ``test-session-<user id>``
resolves to a browser-session principal of that user (owner: admin; others: user) through the
verifier hook. The integration tests use the real owner login (``bodhi open``) instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.access import AppServices
from companion.app import mcp_services
from companion.auth import ApiTokenService
from companion.auth.principal import OWNER_USER_ID, Principal, PrincipalKind, Role
from companion.core.events import EventBus
from companion.core.secrets_box import SecretBox
from companion.core.upstream import ChildClient, LazyClient, make_child_session
from companion.inference import LaunchConfig, LlamaPool
from companion.inference.service import InferenceService
from companion.middleware import setup_middlewares
from companion.middleware.hosts import allowed_hosts
from companion.models import ModelCatalog
from companion.models.alias_store import AliasStore
from companion.models.downloads import DownloadService
from companion.models.files import ModelFiles
from companion.routes import apps as apps_routes
from companion.routes import downloads, events, mcp_proxy, mcps, models, oauth, ollama, openai
from companion.routes.keys import (
    APPS,
    INFERENCE,
    MCPS,
    MODELS,
    SERVER_INFO,
    McpServices,
    ModelServices,
    ServerInfo,
)
from companion.storage import Database
from companion.storage.downloads import DownloadRepository

Client = TestClient[web.Request, web.Application]
SESSION_PREFIX = "test-session-"
BASE = "http://127.0.0.1:1135"


async def session_stand_in(raw: str) -> Principal | None:
    if not raw.startswith(SESSION_PREFIX):
        return None
    user_id = raw.removeprefix(SESSION_PREFIX)
    role = Role.ADMIN if user_id == OWNER_USER_ID else Role.USER
    return Principal(PrincipalKind.SESSION, role=role, user_id=user_id)


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


OWNER_SESSION = bearer(SESSION_PREFIX + OWNER_USER_ID)


@dataclass
class Harness:
    client: Client
    apps: AppServices
    credential: str          # a paired extension's credential (owner)
    db_path: Path
    mcps: McpServices

    @property
    def ext(self) -> dict[str, str]:
        return bearer(self.credential)

    async def open_request(self, origin: str = "http://127.0.0.1:8001",
                           scopes: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        body = {"origin": origin, "requested": {"scopes": scopes or ["chat"], **extra}}
        resp = await self.client.post("/bodhi/v1/apps/request-access", json=body,
                                      headers=self.ext)
        assert resp.status in (200, 201), await resp.text()
        result: dict[str, Any] = await resp.json()
        return result

    async def approve(self, request_id: str, **terms: Any) -> dict[str, Any]:
        body = {"scopes": ["chat"], "models": None, "remember": False, **terms}
        resp = await self.client.post(f"/bodhi/v1/apps/access-requests/{request_id}/approve",
                                      json=body, headers=self.ext)
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = await resp.json()
        return result

    async def tokens_for(self, request_id: str) -> dict[str, Any]:
        resp = await self.client.post("/bodhi/v1/apps/token", headers=self.ext, json={
            "grant_type": "access_request", "request_id": request_id})
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = await resp.json()
        return result

    async def tokens_for_grant(self, grant_id: str) -> dict[str, Any]:
        resp = await self.client.post("/bodhi/v1/apps/token", headers=self.ext, json={
            "grant_type": "grant", "grant_id": grant_id})
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = await resp.json()
        return result

    async def granted(self, **terms: Any) -> dict[str, Any]:
        """Open, approve and exchange a request: the app's token set."""
        opened = await self.open_request(scopes=terms.get("scopes"))
        await self.approve(opened["id"], **terms)
        return await self.tokens_for(opened["id"])


def _pool(tmp_path: Path, client: ChildClient) -> LlamaPool:
    config = LaunchConfig(llama_server="", default_flags=(), log_dir=tmp_path / "logs",
                          ready_timeout=60.0, threads_http=2)
    return LlamaPool(config, client, keep_alive_secs=lambda: 0)


@pytest.fixture
async def harness(aiohttp_client: Any, db: Database, tokens: ApiTokenService,
                  tmp_path: Path) -> AsyncIterator[Harness]:
    session, http = make_child_session(), LazyClient()
    local = ChildClient(session)
    mcp = mcp_services(db, SecretBox(bytes(32)), http, local, tmp_path / "logs", lambda: 0)
    apps = AppServices.build(db, tmp_path, BASE, EventBus(), mcp=mcp.instances)
    app = web.Application()
    setup_middlewares(app, allowed_hosts=allowed_hosts("127.0.0.1", ""), max_body=1 << 20,
                      tokens=tokens,
                      verifiers=[session_stand_in, apps.extension.verify, apps.tokens.verify],
                      origin_allowed=apps.grants.origin_has_grant,
                      app_calls=apps.activity.record)
    app[APPS], app[MCPS] = apps, mcp
    (tmp_path / "aliases").mkdir(exist_ok=True)
    hub = tmp_path / "hf" / "hub"
    catalog = ModelCatalog(tmp_path / "aliases", hub)
    app[INFERENCE] = InferenceService(catalog, _pool(tmp_path, local), local)
    app[MODELS] = ModelServices(catalog, ModelFiles(hub), AliasStore(tmp_path / "aliases", catalog),
                                DownloadService(DownloadRepository(db), hub))
    app[SERVER_INFO] = ServerInfo("test", BASE)
    for module in (apps_routes, oauth, events, openai, models, ollama, downloads, mcps,
                   mcp_proxy):
        module.setup(app)
    client: Client = await aiohttp_client(app)
    _, credential = await apps.extension.issue(OWNER_USER_ID, "ext-id", "chrome")
    try:
        yield Harness(client, apps, credential, db.path, mcp)
    finally:
        await mcp.stdio.stop_all()
        await session.close()
        await http.aclose()
        apps.close()
