"""Repository for MCP servers and users' MCP instances (tables ``mcp_servers``,
``mcp_instances``). Sealed columns arrive sealed; this module never sees a secret."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from companion.storage.db import Database
from companion.storage.rows import columns, fetch_all, fetch_one, insert_sql, values


@dataclass(frozen=True)
class McpServerRecord:
    id: str
    name: str
    description: str | None
    enabled: int
    kind: str
    url: str | None
    auth_config: str
    client_secret: str | None
    oauth_client: str | None
    command: str | None
    command_env: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class McpInstanceRecord:
    id: str
    user_id: str
    server_id: str
    name: str
    slug: str
    enabled: int
    credential_keys: str
    credentials: str | None
    auth_status: str
    auth_error: str | None
    allowed_tools: str | None
    tools: str | None
    tools_fetched_at: int | None
    created_at: int
    updated_at: int


_SERVERS = columns(McpServerRecord)
_INSTANCES = columns(McpInstanceRecord)


def _assignments(record: Any, skip: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
    names = [f.name for f in dataclasses.fields(record) if f.name not in skip]
    return (", ".join(f"{n} = ?" for n in names),
            tuple(getattr(record, n) for n in names))


class McpServerRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: McpServerRecord) -> None:
        await self._conn.execute(insert_sql("mcp_servers", McpServerRecord), values(record))

    async def update(self, record: McpServerRecord) -> None:
        sql, params = _assignments(record, ("id", "created_at"))
        await self._conn.execute(f"UPDATE mcp_servers SET {sql} WHERE id = ?",
                                 (*params, record.id))

    async def get(self, server_id: str) -> McpServerRecord | None:
        return await fetch_one(self._conn, McpServerRecord,
                               f"SELECT {_SERVERS} FROM mcp_servers WHERE id = ?", (server_id,))

    async def list_all(self) -> list[McpServerRecord]:
        return await fetch_all(self._conn, McpServerRecord,
                               f"SELECT {_SERVERS} FROM mcp_servers ORDER BY name")

    async def find(self, *, url: str | None = None, name: str | None = None
                   ) -> McpServerRecord | None:
        column, value = ("url", url) if url is not None else ("name", name)
        return await fetch_one(self._conn, McpServerRecord,
                               f"SELECT {_SERVERS} FROM mcp_servers WHERE {column} = ?",
                               (value,))

    async def delete(self, server_id: str) -> bool:
        cur = await self._conn.execute("DELETE FROM mcp_servers WHERE id = ?", (server_id,))
        return cur.rowcount > 0


class McpInstanceRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: McpInstanceRecord) -> None:
        await self._conn.execute(insert_sql("mcp_instances", McpInstanceRecord), values(record))

    async def update(self, record: McpInstanceRecord) -> None:
        sql, params = _assignments(record, ("id", "user_id", "server_id", "created_at"))
        await self._conn.execute(f"UPDATE mcp_instances SET {sql} WHERE id = ?",
                                 (*params, record.id))

    async def get(self, instance_id: str) -> McpInstanceRecord | None:
        return await fetch_one(self._conn, McpInstanceRecord,
                               f"SELECT {_INSTANCES} FROM mcp_instances WHERE id = ?",
                               (instance_id,))

    async def list_for_user(self, user_id: str) -> list[McpInstanceRecord]:
        return await fetch_all(self._conn, McpInstanceRecord,
                               f"SELECT {_INSTANCES} FROM mcp_instances WHERE user_id = ?"
                               " ORDER BY name, id", (user_id,))

    async def list_for_server(self, server_id: str) -> list[McpInstanceRecord]:
        return await fetch_all(self._conn, McpInstanceRecord,
                               f"SELECT {_INSTANCES} FROM mcp_instances WHERE server_id = ?",
                               (server_id,))

    async def slug_taken(self, user_id: str, slug: str, other_than: str | None) -> bool:
        async with self._conn.execute(
                "SELECT 1 FROM mcp_instances WHERE user_id = ? AND slug = ? AND id != ?",
                (user_id, slug, other_than or "")) as cur:
            return await cur.fetchone() is not None

    async def delete(self, instance_id: str) -> bool:
        cur = await self._conn.execute("DELETE FROM mcp_instances WHERE id = ?", (instance_id,))
        return cur.rowcount > 0
