"""Repositories for small key/value state: the setup choice (``app_state``), runtime setting
edits (``setting_overrides``) and owner-login tickets (``owner_login_tickets``)."""

from __future__ import annotations

from companion.storage.db import Database


class AppStateRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def all(self) -> dict[str, str]:
        async with self._conn.execute("SELECT key, value FROM app_state") as cur:
            return {row[0]: row[1] for row in await cur.fetchall()}

    async def put_all(self, values: dict[str, str]) -> None:
        await self._conn.executemany(
            "INSERT INTO app_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", list(values.items()))


class SettingOverrideRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def all(self) -> dict[str, str]:
        async with self._conn.execute("SELECT name, value FROM setting_overrides") as cur:
            return {row[0]: row[1] for row in await cur.fetchall()}

    async def put(self, name: str, value: str, now: int) -> None:
        await self._conn.execute(
            "INSERT INTO setting_overrides (name, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at", (name, value, now))

    async def delete(self, name: str) -> bool:
        cur = await self._conn.execute("DELETE FROM setting_overrides WHERE name = ?", (name,))
        return cur.rowcount > 0


class OwnerTicketRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, ticket_hash: str, expires_at: int) -> None:
        await self._conn.execute(
            "INSERT INTO owner_login_tickets (ticket_hash, expires_at) VALUES (?, ?)",
            (ticket_hash, expires_at))

    async def consume(self, ticket_hash: str, now: int) -> bool:
        """Mark an unused, unexpired ticket used, atomically: True only the first time."""
        cur = await self._conn.execute(
            "UPDATE owner_login_tickets SET used_at = ? WHERE ticket_hash = ?"
            " AND used_at IS NULL AND expires_at > ?", (now, ticket_hash, now))
        return cur.rowcount > 0

    async def prune(self, now: int) -> None:
        await self._conn.execute(
            "DELETE FROM owner_login_tickets WHERE expires_at < ?", (now - 3600,))
