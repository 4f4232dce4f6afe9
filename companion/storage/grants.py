"""Repository for app access requests, app grants and their refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass

from companion.storage.db import Database
from companion.storage.rows import columns, fetch_all, fetch_one, insert_sql, values


@dataclass(frozen=True)
class AppAccessRequestRecord:
    id: str
    app: str
    app_kind: str
    app_name: str | None
    reason: str | None
    requested: str          # JSON: {"scopes", "models", "mcps"}
    status: str
    user_id: str
    grant_id: str | None
    oauth: str | None       # JSON: {"redirect_uri", "state", "code_challenge"} for OAuth
    created_at: int
    updated_at: int
    expires_at: int


@dataclass(frozen=True)
class GrantRecord:
    id: str
    user_id: str
    app: str
    app_kind: str
    app_name: str | None
    scopes: str             # space separated
    models: str | None      # JSON list; NULL means every model
    mcps: str               # JSON list
    remember: int
    status: str
    created_at: int
    updated_at: int
    expires_at: int | None
    last_used_at: int | None


@dataclass(frozen=True)
class RefreshTokenRecord:
    token_hash: str
    grant_id: str
    status: str
    created_at: int
    expires_at: int


_REQUESTS = columns(AppAccessRequestRecord)
_GRANTS = columns(GrantRecord)


class AppAccessRequestRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: AppAccessRequestRecord) -> None:
        await self._conn.execute(insert_sql("app_access_requests", AppAccessRequestRecord),
                                 values(record))

    async def get(self, request_id: str) -> AppAccessRequestRecord | None:
        return await fetch_one(self._conn, AppAccessRequestRecord,
                               f"SELECT {_REQUESTS} FROM app_access_requests WHERE id = ?",
                               (request_id,))

    async def decide(self, request_id: str, status: str, grant_id: str | None,
                     now: int) -> bool:
        """Move a live draft to ``status``; ``False`` when it is no longer a live draft."""
        cur = await self._conn.execute(
            "UPDATE app_access_requests SET status = ?, grant_id = ?, updated_at = ? "
            "WHERE id = ? AND status = 'draft' AND expires_at > ?",
            (status, grant_id, now, request_id, now))
        return cur.rowcount > 0

    async def expire_drafts(self, now: int) -> list[AppAccessRequestRecord]:
        expired = await fetch_all(
            self._conn, AppAccessRequestRecord,
            f"SELECT {_REQUESTS} FROM app_access_requests "
            "WHERE status = 'draft' AND expires_at <= ?", (now,))
        if expired:
            await self._conn.execute(
                "UPDATE app_access_requests SET status = 'expired', updated_at = ? "
                "WHERE status = 'draft' AND expires_at <= ?", (now, now))
        return expired

    async def recent_outcomes(self, user_id: str, app: str, since: int
                              ) -> list[tuple[str, int]]:
        """``(status, decided_at)`` of this app's decided requests since ``since``, newest
        first."""
        async with self._conn.execute(
                "SELECT status, updated_at FROM app_access_requests WHERE app = ? AND "
                "user_id = ? AND status != 'draft' AND updated_at >= ? "
                "ORDER BY updated_at DESC LIMIT 64", (app, user_id, since)) as cur:
            return [(str(row[0]), int(row[1])) for row in await cur.fetchall()]

    async def purge(self, decided_before: int) -> int:
        """Delete requests decided (or expired) before ``decided_before``; drafts stay until
        they are marked expired."""
        cur = await self._conn.execute(
            "DELETE FROM app_access_requests WHERE status != 'draft' AND updated_at < ?",
            (decided_before,))
        return cur.rowcount


class GrantRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: GrantRecord) -> None:
        await self._conn.execute(insert_sql("app_grants", GrantRecord), values(record))

    async def get(self, grant_id: str) -> GrantRecord | None:
        return await fetch_one(self._conn, GrantRecord,
                               f"SELECT {_GRANTS} FROM app_grants WHERE id = ?", (grant_id,))

    async def list_for_user(self, user_id: str, limit: int, offset: int) -> list[GrantRecord]:
        return await fetch_all(
            self._conn, GrantRecord,
            f"SELECT {_GRANTS} FROM app_grants WHERE user_id = ? "
            "ORDER BY created_at DESC, id LIMIT ? OFFSET ?", (user_id, limit, offset))

    async def count_for_user(self, user_id: str) -> int:
        async with self._conn.execute("SELECT COUNT(*) FROM app_grants WHERE user_id = ?",
                                      (user_id,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def live_for_app(self, app: str, now: int) -> list[GrantRecord]:
        return await fetch_all(
            self._conn, GrantRecord,
            f"SELECT {_GRANTS} FROM app_grants WHERE app = ? AND status = 'active' "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC", (app, now))

    async def live_origins(self, now: int) -> dict[str, int | None]:
        """Each browser origin with a live grant, and when its last such grant ends."""
        async with self._conn.execute(
                "SELECT app, MAX(COALESCE(expires_at, 9223372036854775807)) FROM app_grants "
                "WHERE app_kind = 'origin' AND status = 'active' AND "
                "(expires_at IS NULL OR expires_at > ?) GROUP BY app", (now,)) as cur:
            rows = await cur.fetchall()
        never = 9223372036854775807
        return {str(row[0]): None if row[1] == never else int(row[1]) for row in rows}

    async def revoke(self, grant_id: str, now: int) -> bool:
        cur = await self._conn.execute(
            "UPDATE app_grants SET status = 'revoked', updated_at = ? WHERE id = ?",
            (now, grant_id))
        await self._conn.execute(
            "UPDATE app_refresh_tokens SET status = 'revoked' WHERE grant_id = ?", (grant_id,))
        return cur.rowcount > 0

    async def touch_last_used(self, used: dict[str, int]) -> None:
        await self._conn.executemany(
            "UPDATE app_grants SET last_used_at = ? WHERE id = ? AND "
            "(last_used_at IS NULL OR last_used_at < ?)",
            [(when, grant_id, when) for grant_id, when in used.items()])

    async def insert_refresh(self, record: RefreshTokenRecord) -> None:
        await self._conn.execute(insert_sql("app_refresh_tokens", RefreshTokenRecord),
                                 values(record))

    async def get_refresh(self, token_hash: str) -> RefreshTokenRecord | None:
        return await fetch_one(
            self._conn, RefreshTokenRecord,
            f"SELECT {columns(RefreshTokenRecord)} FROM app_refresh_tokens "
            "WHERE token_hash = ?", (token_hash,))

    async def use_refresh(self, token_hash: str) -> bool:
        """Spend an active refresh token; ``False`` if it was already spent or revoked."""
        cur = await self._conn.execute(
            "UPDATE app_refresh_tokens SET status = 'used' WHERE token_hash = ? "
            "AND status = 'active'", (token_hash,))
        return cur.rowcount > 0

    async def revoke_refresh_for(self, grant_id: str) -> None:
        await self._conn.execute(
            "UPDATE app_refresh_tokens SET status = 'revoked' WHERE grant_id = ?", (grant_id,))

    async def purge_refresh(self, now: int) -> int:
        """Delete expired refresh tokens. Spent ones are kept until then: presenting one again
        is how a stolen copy is detected."""
        cur = await self._conn.execute(
            "DELETE FROM app_refresh_tokens WHERE expires_at <= ?", (now,))
        return cur.rowcount

    async def purge_ended(self, ended_before: int) -> int:
        """Delete grants revoked or expired before ``ended_before``, with the refresh tokens
        and OAuth codes that point at them."""
        ended = ("SELECT id FROM app_grants WHERE (status = 'revoked' AND updated_at < ?) "
                 "OR (expires_at IS NOT NULL AND expires_at < ?)")
        params = (ended_before, ended_before)
        await self._conn.execute(
            f"DELETE FROM app_refresh_tokens WHERE grant_id IN ({ended})", params)
        await self._conn.execute(f"DELETE FROM oauth_codes WHERE grant_id IN ({ended})", params)
        cur = await self._conn.execute(f"DELETE FROM app_grants WHERE id IN ({ended})", params)
        return cur.rowcount
