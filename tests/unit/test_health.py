"""``/ping`` is liveness, ``/health`` readiness: a tiny app with the real system routes, the real
middleware stack and a real SQLite database that is then closed, moved or left unmigrated."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.auth import ApiTokenService
from companion.middleware import setup_middlewares
from companion.middleware.hosts import allowed_hosts
from companion.routes import system
from companion.routes.keys import DATABASE, SERVER_INFO, ServerInfo
from companion.storage import Database

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def make_client(aiohttp_client: Any, tokens: ApiTokenService
                ) -> Callable[[Database], Awaitable[Client]]:
    async def make(db: Database) -> Client:
        app = web.Application()
        setup_middlewares(app, allowed_hosts=allowed_hosts("127.0.0.1", ""), max_body=1000,
                          tokens=tokens)
        app[DATABASE] = db
        app[SERVER_INFO] = ServerInfo("9.9.9", "http://127.0.0.1:1135")
        app.router.add_get("/ping", system.ping)
        app.router.add_get("/health", system.health)
        client: Client = await aiohttp_client(app)
        return client

    return make


async def _not_ready(client: Client) -> str:
    resp = await client.get("/health")
    assert resp.status == 503
    assert resp.headers["Retry-After"] == str(system.RETRY_AFTER_SECS)
    error = (await resp.json())["error"]
    assert error["type"] == "service_unavailable" and error["code"] == "not_ready"
    message: str = error["message"]
    return message


async def test_ready_database_is_200(make_client: Any, db: Database) -> None:
    client = await make_client(db)
    resp = await client.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "version": "9.9.9"}


async def test_closed_database_is_503_while_ping_stays_200(make_client: Any,
                                                          tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "closed.sqlite")
    client = await make_client(db)
    await db.close()
    assert "does not answer" in await _not_ready(client)
    assert (await client.get("/ping")).status == 200


async def test_database_file_moved_away_and_back(make_client: Any, db: Database) -> None:
    client = await make_client(db)
    aside = db.path.with_suffix(".aside")
    db.path.rename(aside)
    try:
        assert "is missing" in await _not_ready(client)
    finally:
        aside.rename(db.path)
    assert (await client.get("/health")).status == 200


async def test_replaced_database_file_is_503(make_client: Any, db: Database) -> None:
    client = await make_client(db)
    db.path.rename(db.path.with_suffix(".old"))
    db.path.write_bytes(b"")
    assert "was replaced" in await _not_ready(client)


async def test_pending_migration_is_503(make_client: Any, db: Database) -> None:
    await db.conn.execute("DELETE FROM schema_migrations WHERE version = "
                          "(SELECT max(version) FROM schema_migrations)")
    client = await make_client(db)
    assert "1 database migration(s) not applied" in await _not_ready(client)
