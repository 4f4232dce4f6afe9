"""Repository for OAuth clients and authorization codes."""

from __future__ import annotations

from dataclasses import dataclass

from companion.storage.db import Database
from companion.storage.rows import columns, fetch_all, fetch_one, insert_sql, values


@dataclass(frozen=True)
class OAuthClientRecord:
    client_id: str
    name: str
    redirect_uris: str      # JSON list, matched exactly
    created_at: int


@dataclass(frozen=True)
class AuthorizationCodeRecord:
    code_hash: str
    client_id: str
    grant_id: str
    redirect_uri: str
    code_challenge: str
    created_at: int
    expires_at: int
    used_at: int | None


_CLIENTS = columns(OAuthClientRecord)


class OAuthRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert_client(self, record: OAuthClientRecord) -> None:
        await self._conn.execute(insert_sql("oauth_clients", OAuthClientRecord), values(record))

    async def get_client(self, client_id: str) -> OAuthClientRecord | None:
        return await fetch_one(self._conn, OAuthClientRecord,
                               f"SELECT {_CLIENTS} FROM oauth_clients WHERE client_id = ?",
                               (client_id,))

    async def list_clients(self) -> list[OAuthClientRecord]:
        return await fetch_all(self._conn, OAuthClientRecord,
                               f"SELECT {_CLIENTS} FROM oauth_clients ORDER BY created_at")

    async def delete_client(self, client_id: str) -> bool:
        cur = await self._conn.execute("DELETE FROM oauth_clients WHERE client_id = ?",
                                       (client_id,))
        return cur.rowcount > 0

    async def insert_code(self, record: AuthorizationCodeRecord) -> None:
        await self._conn.execute(insert_sql("oauth_codes", AuthorizationCodeRecord),
                                 values(record))

    async def spend_code(self, code_hash: str, now: int
                         ) -> tuple[AuthorizationCodeRecord | None, bool]:
        """The code's record and whether this call spent it (``False``: spent before).

        One UPDATE decides, so two exchanges racing for one code cannot both win.
        """
        cur = await self._conn.execute(
            "UPDATE oauth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
            (now, code_hash))
        record = await fetch_one(
            self._conn, AuthorizationCodeRecord,
            f"SELECT {columns(AuthorizationCodeRecord)} FROM oauth_codes WHERE code_hash = ?",
            (code_hash,))
        return record, cur.rowcount > 0

    async def purge_codes(self, expired_before: int) -> int:
        """Delete codes that expired before ``expired_before``. A spent code is kept a while
        past its 60 s so that a late replay still revokes the grant it produced."""
        cur = await self._conn.execute("DELETE FROM oauth_codes WHERE expires_at < ?",
                                       (expired_before,))
        return cur.rowcount
