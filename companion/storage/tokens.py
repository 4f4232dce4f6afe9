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
    user_id: str = "owner"
    models: str | None = None        # JSON list of model names; NULL grants every model
    expires_at: int | None = None
    mcps: str | None = None          # NULL: no MCP instance; "*": every one; or a JSON list


@dataclass(frozen=True)
class TokenMatch:
    """A token found by its lookup prefix, with its user's current role (None: no access)."""

    record: ApiTokenRecord
    user_role: str | None


_COLUMNS = ("id, name, token_prefix, token_hash, scopes, status, created_at, updated_at,"
            " last_used_at, user_id, models, expires_at, mcps")
_QUALIFIED = ", ".join(f"t.{c.strip()}" for c in _COLUMNS.split(","))


def _record(row: aiosqlite.Row) -> ApiTokenRecord:
    return ApiTokenRecord(*tuple(row))


class ApiTokenRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: ApiTokenRecord) -> None:
        await self._conn.execute(
            f"INSERT INTO api_tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.id, record.name, record.token_prefix, record.token_hash, record.scopes,
             record.status, record.created_at, record.updated_at, record.last_used_at,
             record.user_id, record.models, record.expires_at, record.mcps),
        )

    async def find_by_prefix(self, prefix: str) -> list[TokenMatch]:
        async with self._conn.execute(
            f"SELECT {_QUALIFIED}, u.role FROM api_tokens t LEFT JOIN users u"
            " ON u.id = t.user_id WHERE t.token_prefix = ?", (prefix,)
        ) as cur:
            return [TokenMatch(ApiTokenRecord(*tuple(row)[:-1]), row[-1])
                    for row in await cur.fetchall()]

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

    async def list_for_user(self, user_id: str, limit: int, offset: int
                            ) -> tuple[list[ApiTokenRecord], int]:
        async with self._conn.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE user_id = ?"
            " ORDER BY created_at DESC, id LIMIT ? OFFSET ?", (user_id, limit, offset)
        ) as cur:
            records = [_record(row) for row in await cur.fetchall()]
        async with self._conn.execute(
            "SELECT count(*) FROM api_tokens WHERE user_id = ?", (user_id,)
        ) as cur:
            row = await cur.fetchone()
        return records, int(row[0]) if row else 0

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

    async def rename(self, token_id: str, name: str, now: int) -> bool:
        cur = await self._conn.execute(
            "UPDATE api_tokens SET name = ?, updated_at = ? WHERE id = ?", (name, now, token_id))
        return cur.rowcount > 0

    async def delete(self, token_id: str) -> bool:
        cur = await self._conn.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,))
        return cur.rowcount > 0

    async def delete_for_user(self, user_id: str) -> None:
        await self._conn.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,))
