"""Repository for the record of app requests (``app_activity``): what each app token did."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from companion.storage.db import Database
from companion.storage.rows import columns, fetch_all


class ActivityRecord(NamedTuple):
    """A tuple, not a dataclass: one is made on every app request, and a batch goes to
    ``executemany`` as it is."""

    grant_id: str
    app: str
    user_id: str
    at: float               # epoch seconds, when the request arrived
    method: str
    path: str
    model: str | None       # the model the request named, if any
    status: int
    duration_ms: int


@dataclass(frozen=True)
class StoredActivity:
    """A row as read back: the record with its id (newest rows have the highest)."""

    id: int
    grant_id: str
    app: str
    user_id: str
    at: float
    method: str
    path: str
    model: str | None
    status: int
    duration_ms: int


_STORED = columns(StoredActivity)
_INSERT = (f"INSERT INTO app_activity ({', '.join(ActivityRecord._fields)}) "
           f"VALUES ({', '.join('?' for _ in ActivityRecord._fields)})")


class AppActivityRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert_many(self, records: Sequence[ActivityRecord]) -> None:
        """One statement for the batch: aiosqlite runs it in one call to the database."""
        await self._conn.executemany(_INSERT, records)

    async def page_for_grant(self, grant_id: str, limit: int, offset: int
                             ) -> list[StoredActivity]:
        return await fetch_all(
            self._conn, StoredActivity,
            f"SELECT {_STORED} FROM app_activity WHERE grant_id = ? "
            "ORDER BY id DESC LIMIT ? OFFSET ?", (grant_id, limit, offset))

    async def count_for_grant(self, grant_id: str) -> int:
        async with self._conn.execute("SELECT COUNT(*) FROM app_activity WHERE grant_id = ?",
                                      (grant_id,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def keep_newest(self, grant_ids: Iterable[str], keep: int) -> int:
        """Delete all but the newest ``keep`` rows of each grant; how many went."""
        deleted = 0
        for grant_id in grant_ids:
            cur = await self._conn.execute(
                "DELETE FROM app_activity WHERE grant_id = ? AND id <= (SELECT id FROM "
                "app_activity WHERE grant_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (grant_id, grant_id, keep))
            deleted += max(cur.rowcount, 0)
        return deleted

    async def purge(self, before: float) -> int:
        """Delete rows older than ``before`` and rows whose grant is gone."""
        cur = await self._conn.execute(
            "DELETE FROM app_activity WHERE at < ? OR grant_id NOT IN "
            "(SELECT id FROM app_grants)", (before,))
        return cur.rowcount
