"""Ended app records are deleted: pairing codes and refresh tokens once expired, decided
requests, ended grants and OAuth codes after the history period. Time is the ``now`` handed
to the purge, never a sleep."""

from __future__ import annotations

import sqlite3
import time

from companion.access import AppServices
from companion.access.grants import GrantTerms
from companion.core.opaque_secrets import digest
from companion.storage import Database
from companion.storage.extension import ExtensionRepository, PairingCodeRecord
from companion.storage.grants import (
    AppAccessRequestRecord,
    AppAccessRequestRepository,
    GrantRepository,
    RefreshTokenRecord,
)
from companion.storage.oauth import AuthorizationCodeRecord, OAuthRepository
from tests.unit.apps_harness import Harness, harness

__all__ = ["harness"]

DAY = 24 * 3600
KEEP = 30 * DAY
ORIGIN = "http://127.0.0.1:8001"


def ids(harness: Harness, table: str, column: str) -> set[str]:
    with sqlite3.connect(harness.db_path) as conn:
        return {str(row[0]) for row in conn.execute(f"SELECT {column} FROM {table}")}


async def grant(apps: AppServices, remember: bool = False, expires_in: int | None = None
                ) -> str:
    made = await apps.grants.create("owner", ORIGIN, "origin", None, GrantTerms(
        frozenset({"chat"}), None, remember=remember, expires_in=expires_in))
    return made.id


def request(request_id: str, status: str, decided_at: int) -> AppAccessRequestRecord:
    return AppAccessRequestRecord(request_id, ORIGIN, "origin", None, None,
                               '{"scopes": ["chat"], "models": null, "mcps": []}', status,
                               "owner", None, None, decided_at, decided_at, decided_at + 600)


async def test_everything_ended_is_purged_and_nothing_live(harness: Harness,
                                                          db: Database) -> None:
    apps, now = harness.apps, int(time.time())
    requests = AppAccessRequestRepository(db)
    for rid, status, at in [("old-denied", "denied", now - KEEP - 1),
                            ("old-expired", "expired", now - KEEP - 1),
                            ("recent-denied", "denied", now - DAY),
                            ("old-draft", "draft", now - KEEP - 1)]:
        await requests.insert(request(rid, status, at))
    live = await grant(apps, remember=True)
    revoked = await grant(apps, remember=True)
    await apps.grants.revoke_as_system(revoked)
    expired = await grant(apps, expires_in=60)
    with sqlite3.connect(harness.db_path) as conn:          # both ended long ago
        conn.execute("UPDATE app_grants SET updated_at = ? WHERE id = ?",
                     (now - KEEP - 1, revoked))
        conn.execute("UPDATE app_grants SET expires_at = ? WHERE id = ?",
                     (now - KEEP - 1, expired))
    tokens = GrantRepository(db)
    for name, grant_id, expires_at in [("live", live, now + DAY), ("spent", live, now - 1),
                                       ("of-revoked", revoked, now + DAY)]:
        await tokens.insert_refresh(RefreshTokenRecord(digest(name), grant_id, "used",
                                                       now - DAY, expires_at))
    codes = OAuthRepository(db)
    for name, grant_id, expires_at in [("fresh", live, now + 60), ("old", live, now - KEEP - 1),
                                       ("recent", live, now - DAY), ("of-expired", expired,
                                                                      now + 60)]:
        await codes.insert_code(AuthorizationCodeRecord(
            digest(name), "client", grant_id, "http://127.0.0.1/cb", "c", now, expires_at, None))
    pairing = ExtensionRepository(db)
    for name, expires_at in [("open", now + 60), ("expired", now)]:
        await pairing.insert_code(PairingCodeRecord(digest(name), "owner", now - 300,
                                                    expires_at, None))

    purged = await apps.purge(now, KEEP)

    assert ids(harness, "app_access_requests", "id") == {"recent-denied", "old-draft"}
    assert ids(harness, "app_grants", "id") == {live}
    assert ids(harness, "app_refresh_tokens", "token_hash") == {digest("live")}
    assert ids(harness, "oauth_codes", "code_hash") == {digest("fresh"), digest("recent")}
    assert ids(harness, "pairing_codes", "code_hash") == {digest("open")}
    assert purged == {"pairing_codes": 1, "refresh_tokens": 1, "access_requests": 2,
                      "oauth_codes": 1, "grants": 2}
    assert await apps.purge(now, KEEP) == {}


async def test_a_history_of_zero_days_keeps_only_what_is_live(harness: Harness) -> None:
    apps = harness.apps
    opened = await harness.open_request("http://127.0.0.1:8002")
    await harness.client.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/deny",
                              headers=harness.ext)
    tokens = await harness.granted(remember=True)

    # "Now" after the records exist: on a busy machine their set-up can cross a second.
    await apps.purge(int(time.time()) + 1, 0)

    assert ids(harness, "app_access_requests", "status") == set()
    assert ids(harness, "app_grants", "id") == {tokens["grant_id"]}
    assert len(ids(harness, "app_refresh_tokens", "token_hash")) == 1
