"""Repository for browser sessions and OIDC logins in progress (``session.sqlite``)."""

from __future__ import annotations

from dataclasses import dataclass

from companion.storage.db import Database

SESSION_MIGRATIONS = "session_migrations"


@dataclass(frozen=True)
class SessionRecord:
    id_hash: str
    user_id: str
    username: str
    role: str | None
    created_at: int
    expires_at: int
    refresh_token: str | None = None
    access_expires_at: int | None = None


@dataclass(frozen=True)
class LoginState:
    state: str
    nonce: str
    code_verifier: str
    created_at: int


_COLUMNS = ("id_hash, user_id, username, role, created_at, expires_at, refresh_token,"
            " access_expires_at")


class SessionRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: SessionRecord) -> None:
        await self._conn.execute(
            f"INSERT INTO sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (record.id_hash, record.user_id, record.username, record.role, record.created_at,
             record.expires_at, record.refresh_token, record.access_expires_at))

    async def get(self, id_hash: str) -> SessionRecord | None:
        async with self._conn.execute(
            f"SELECT {_COLUMNS} FROM sessions WHERE id_hash = ?", (id_hash,)
        ) as cur:
            row = await cur.fetchone()
        return SessionRecord(*tuple(row)) if row else None

    async def update_tokens(self, id_hash: str, refresh_token: str | None,
                            access_expires_at: int | None) -> None:
        await self._conn.execute(
            "UPDATE sessions SET refresh_token = ?, access_expires_at = ? WHERE id_hash = ?",
            (refresh_token, access_expires_at, id_hash))

    async def refresh_tokens(self) -> dict[str, str]:
        """Every stored refresh token by session (id hash)."""
        async with self._conn.execute(
            "SELECT id_hash, refresh_token FROM sessions WHERE refresh_token IS NOT NULL"
        ) as cur:
            return {row[0]: row[1] for row in await cur.fetchall()}

    async def set_refresh_token(self, id_hash: str, refresh_token: str | None) -> None:
        await self._conn.execute("UPDATE sessions SET refresh_token = ? WHERE id_hash = ?",
                                 (refresh_token, id_hash))

    async def delete(self, id_hash: str) -> None:
        await self._conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    async def delete_for_user(self, user_id: str) -> None:
        await self._conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    async def delete_all_but(self, user_id: str) -> int:
        cur = await self._conn.execute("DELETE FROM sessions WHERE user_id != ?", (user_id,))
        return cur.rowcount

    async def count_all_but(self, user_id: str, now: int) -> int:
        async with self._conn.execute(
            "SELECT count(*) FROM sessions WHERE user_id != ? AND expires_at > ?", (user_id, now)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def set_role_for_user(self, user_id: str, role: str | None) -> None:
        await self._conn.execute("UPDATE sessions SET role = ? WHERE user_id = ?",
                                 (role, user_id))

    async def prune(self, now: int) -> None:
        await self._conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        await self._conn.execute("DELETE FROM login_states WHERE created_at <= ?", (now - 600,))

    async def put_login_state(self, state: LoginState) -> None:
        await self._conn.execute(
            "INSERT INTO login_states (state, nonce, code_verifier, created_at)"
            " VALUES (?, ?, ?, ?)", (state.state, state.nonce, state.code_verifier,
                                     state.created_at))

    async def take_login_state(self, state: str) -> LoginState | None:
        """Remove and return a login in progress: each state is good for one callback."""
        async with self._conn.execute(
            "DELETE FROM login_states WHERE state = ? RETURNING state, nonce, code_verifier,"
            " created_at", (state,)
        ) as cur:
            row = await cur.fetchone()
        return LoginState(*tuple(row)) if row else None
