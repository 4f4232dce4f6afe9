"""Repository for remote API models and router aliases (tables ``api_models``,
``router_aliases``). The key column arrives sealed; this module never sees a secret."""

from __future__ import annotations

from dataclasses import dataclass

from companion.storage.db import Database
from companion.storage.rows import columns, fetch_all, fetch_one, insert_sql, values


@dataclass(frozen=True)
class ApiModelRecord:
    id: str
    api_format: str
    base_url: str
    api_key: str | None
    api_key_hint: str | None
    models: str
    prefix: str | None
    forward_all_with_prefix: int
    extra_headers: str
    extra_body: str
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class RouterAliasRecord:
    alias: str
    targets: str
    strategy: str
    created_at: int
    updated_at: int


_API = columns(ApiModelRecord)
_ROUTERS = columns(RouterAliasRecord)


class ApiModelRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: ApiModelRecord) -> None:
        await self._conn.execute(insert_sql("api_models", ApiModelRecord), values(record))

    async def update(self, record: ApiModelRecord) -> None:
        await self._conn.execute(
            "UPDATE api_models SET api_format = ?, base_url = ?, api_key = ?, api_key_hint = ?,"
            " models = ?, prefix = ?, forward_all_with_prefix = ?, extra_headers = ?,"
            " extra_body = ?, updated_at = ? WHERE id = ?",
            (record.api_format, record.base_url, record.api_key, record.api_key_hint,
             record.models, record.prefix, record.forward_all_with_prefix,
             record.extra_headers, record.extra_body, record.updated_at, record.id))

    async def get(self, record_id: str) -> ApiModelRecord | None:
        return await fetch_one(self._conn, ApiModelRecord,
                               f"SELECT {_API} FROM api_models WHERE id = ?", (record_id,))

    async def list_all(self) -> list[ApiModelRecord]:
        return await fetch_all(self._conn, ApiModelRecord,
                               f"SELECT {_API} FROM api_models ORDER BY created_at, id")

    async def delete(self, record_id: str) -> bool:
        cur = await self._conn.execute("DELETE FROM api_models WHERE id = ?", (record_id,))
        return cur.rowcount > 0


class RouterAliasRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def upsert(self, record: RouterAliasRecord) -> None:
        await self._conn.execute(
            insert_sql("router_aliases", RouterAliasRecord) +
            " ON CONFLICT (alias) DO UPDATE SET targets = excluded.targets,"
            " strategy = excluded.strategy, updated_at = excluded.updated_at", values(record))

    async def list_all(self) -> list[RouterAliasRecord]:
        return await fetch_all(self._conn, RouterAliasRecord,
                               f"SELECT {_ROUTERS} FROM router_aliases ORDER BY alias")

    async def delete(self, alias: str) -> bool:
        cur = await self._conn.execute("DELETE FROM router_aliases WHERE alias = ?", (alias,))
        return cur.rowcount > 0
