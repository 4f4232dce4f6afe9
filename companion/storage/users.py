"""Repositories for users and their access requests (``users``, ``user_access_requests``)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from companion.storage.db import Database


@dataclass(frozen=True)
class UserRecord:
    id: str
    username: str
    email: str | None
    role: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class RoleRequestRecord:
    id: int
    user_id: str
    username: str
    status: str
    role: str | None
    reviewer_id: str | None
    created_at: int
    updated_at: int


_USER_COLUMNS = "id, username, email, role, created_at, updated_at"
_REQUEST_COLUMNS = "id, user_id, username, status, role, reviewer_id, created_at, updated_at"


async def _count(conn: aiosqlite.Connection, sql: str, args: tuple[object, ...] = ()) -> int:
    async with conn.execute(sql, args) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


class UserRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def get(self, user_id: str) -> UserRecord | None:
        async with self._conn.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)
        ) as cur:
            row = await cur.fetchone()
        return UserRecord(*tuple(row)) if row else None

    async def upsert_login(self, user_id: str, username: str, email: str | None, now: int,
                           first_role: str) -> UserRecord:
        """Record a login. A new user gets ``first_role`` when nobody but the owner exists
        yet; one statement decides it, so two first logins cannot both win."""
        # "WHERE true" lets SQLite parse the upsert clause after INSERT ... SELECT.
        await self._conn.execute(
            "INSERT INTO users (id, username, email, role, created_at, updated_at)"
            " SELECT ?, ?, ?, CASE WHEN (SELECT count(*) FROM users WHERE id != 'owner') = 0"
            " THEN ? END, ?, ? WHERE true ON CONFLICT (id) DO UPDATE SET"
            " username = excluded.username, email = excluded.email,"
            " updated_at = excluded.updated_at",
            (user_id, username, email, first_role, now, now))
        user = await self.get(user_id)
        assert user is not None
        return user

    async def list(self, limit: int, offset: int) -> tuple[list[UserRecord], int]:
        async with self._conn.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE role IS NOT NULL"
            " ORDER BY created_at, id LIMIT ? OFFSET ?", (limit, offset)
        ) as cur:
            users = [UserRecord(*tuple(row)) for row in await cur.fetchall()]
        return users, await _count(self._conn,
                                   "SELECT count(*) FROM users WHERE role IS NOT NULL")

    async def set_role(self, user_id: str, role: str | None, now: int) -> bool:
        cur = await self._conn.execute(
            "UPDATE users SET role = ?, updated_at = ? WHERE id = ?", (role, now, user_id))
        return cur.rowcount > 0

    async def delete(self, user_id: str) -> bool:
        cur = await self._conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        return cur.rowcount > 0

    async def ids_but(self, user_id: str) -> tuple[str, ...]:
        async with self._conn.execute("SELECT id FROM users WHERE id != ? ORDER BY id",
                                      (user_id,)) as cur:
            return tuple(row[0] for row in await cur.fetchall())


class RoleRequestRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def create(self, user_id: str, username: str, now: int) -> RoleRequestRecord:
        cur = await self._conn.execute(
            "INSERT INTO user_access_requests (user_id, username, status, created_at,"
            " updated_at) VALUES (?, ?, 'pending', ?, ?)", (user_id, username, now, now))
        record = await self.get(int(cur.lastrowid or 0))
        assert record is not None
        return record

    async def get(self, request_id: int) -> RoleRequestRecord | None:
        async with self._conn.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM user_access_requests WHERE id = ?", (request_id,)
        ) as cur:
            row = await cur.fetchone()
        return RoleRequestRecord(*tuple(row)) if row else None

    async def latest_for_user(self, user_id: str) -> RoleRequestRecord | None:
        async with self._conn.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM user_access_requests WHERE user_id = ?"
            " ORDER BY id DESC LIMIT 1", (user_id,)
        ) as cur:
            row = await cur.fetchone()
        return RoleRequestRecord(*tuple(row)) if row else None

    async def list(self, pending_only: bool, limit: int, offset: int
                   ) -> tuple[list[RoleRequestRecord], int]:
        where = "WHERE status = 'pending'" if pending_only else ""
        async with self._conn.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM user_access_requests {where}"
            " ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
        ) as cur:
            records = [RoleRequestRecord(*tuple(row)) for row in await cur.fetchall()]
        total = await _count(self._conn, f"SELECT count(*) FROM user_access_requests {where}")
        return records, total

    async def decide(self, request_id: int, status: str, role: str | None, reviewer_id: str,
                     now: int) -> bool:
        """Settle a pending request; False when it is not pending (any more)."""
        cur = await self._conn.execute(
            "UPDATE user_access_requests SET status = ?, role = ?, reviewer_id = ?,"
            " updated_at = ? WHERE id = ? AND status = 'pending'",
            (status, role, reviewer_id, now, request_id))
        return cur.rowcount > 0
