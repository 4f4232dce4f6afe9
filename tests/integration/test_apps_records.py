"""App records on the real companion: ended ones are purged when it starts (and hourly after),
and the app token lifetime follows BODHI_APP_TOKEN_SECS."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx

from companion.core.opaque_secrets import digest
from companion.storage import Database
from companion.storage.extension import ExtensionRepository, PairingCodeRecord
from companion.storage.grants import AppAccessRequestRecord, AppAccessRequestRepository
from tests.conftest import db_path, running_companion

ORIGIN = "http://127.0.0.1:8001"
DAY = 24 * 3600


async def _leave_old_records(home: Path) -> None:
    """What a long-running install accumulates: old decisions and used codes."""
    db = await Database.open(db_path(home))
    now = int(time.time())
    try:
        requests = AppAccessRequestRepository(db)
        for i in range(50):
            decided = now - 40 * DAY + i
            await requests.insert(AppAccessRequestRecord(
                f"old-{i}", ORIGIN, "origin", None, None,
                '{"scopes": ["chat"], "models": null, "mcps": []}', "denied", "owner", None,
                None, decided, decided, decided + 600))
        codes = ExtensionRepository(db)
        for i in range(20):
            await codes.insert_code(PairingCodeRecord(digest(f"code-{i}"), "owner",
                                                      now - 3600, now - 3300, now - 3500))
    finally:
        await db.close()


def _count(home: Path, table: str) -> int:
    with sqlite3.connect(db_path(home)) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_ended_records_are_purged_at_start_and_tokens_follow_the_setting(
        tmp_path: Path) -> None:
    home = tmp_path / "bodhi"
    home.mkdir()
    asyncio.run(_leave_old_records(home))
    assert _count(home, "app_access_requests") == 50

    with running_companion(tmp_path, BODHI_APP_TOKEN_SECS="7") as companion:
        assert _count(home, "app_access_requests") == 0
        assert _count(home, "pairing_codes") == 0
        code = companion.cli("pair").strip().splitlines()[-1]
        with httpx.Client(base_url=companion.url, timeout=30) as http:
            credential = http.post("/bodhi/v1/apps/extension/pair", json={"code": code}
                                   ).json()["credential"]
            http.headers["Authorization"] = f"Bearer {credential}"
            opened = http.post("/bodhi/v1/apps/request-access", json={
                "origin": ORIGIN, "requested": {"scopes": ["chat"]}}).json()
            http.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/approve",
                      json={"scopes": ["chat"]}).raise_for_status()
            tokens = http.post("/bodhi/v1/apps/token", json={
                "grant_type": "access_request", "request_id": opened["id"]}).json()

    assert tokens["expires_in"] == 7
