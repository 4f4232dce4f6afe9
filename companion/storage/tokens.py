"""Repository for API tokens (table ``api_tokens``)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from companion.storage.db import Database


@dataclass(frozen=True)
class ApiTokenRecord:
    id: str
    name: str
    token_prefix: str
    token_hash: str
    scopes: str
    status: str
    created_at: int
    updated_at: int
    last_used_at: int | None


_COLUMNS = ("id, name, token_prefix, token_hash, scopes, status, created_at, updated_at,"
            " last_used_at")


def _record(row: aiosqlite.Row) -> ApiTokenRecord:
    return ApiTokenRecord(*tuple(row))


class ApiTokenRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: ApiTokenRecord) -> None:
        await self._conn.execute(
            f"INSERT INTO api_tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.id, record.name, record.token_prefix, record.token_hash, record.scopes,
             record.status, record.created_at, record.updated_at, record.last_used_at),
        )

    async def find_by_prefix(self, prefix: str) -> list[ApiTokenRecord]:
        async with self._conn.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE token_prefix = ?", (prefix,)
        ) as cur:
            return [_record(row) for row in await cur.fetchall()]

    async def get(self, token_id: str) -> ApiTokenRecord | None:
        async with self._conn.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,)
        ) as cur:
            row = await cur.fetchone()
        return _record(row) if row else None

    async def list_all(self) -> list[ApiTokenRecord]:
        async with self._conn.execute(
            f"SELECT {_COLUMNS} FROM api_tokens ORDER BY created_at, id"
        ) as cur:
            return [_record(row) for row in await cur.fetchall()]

    async def touch_last_used(self, used: dict[str, int]) -> None:
        await self._conn.executemany(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND "
            "(last_used_at IS NULL OR last_used_at < ?)",
            [(when, token_id, when) for token_id, when in used.items()])

    async def set_status(self, token_id: str, status: str, now: int) -> bool:
        cur = await self._conn.execute(
            "UPDATE api_tokens SET status = ?, updated_at = ? WHERE id = ?",
            (status, now, token_id),
        )
        return cur.rowcount > 0
