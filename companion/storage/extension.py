"""Repository for the paired extension: credentials and one-time pairing codes."""

from __future__ import annotations

from dataclasses import dataclass

from companion.storage.db import Database
from companion.storage.rows import columns, fetch_all, fetch_one, insert_sql, values


@dataclass(frozen=True)
class ExtensionCredentialRecord:
    id: str
    user_id: str
    extension_id: str
    browser: str
    token_prefix: str
    token_hash: str
    status: str
    created_at: int
    last_used_at: int | None


@dataclass(frozen=True)
class PairingCodeRecord:
    code_hash: str
    user_id: str
    created_at: int
    expires_at: int
    used_at: int | None


_CREDENTIALS = columns(ExtensionCredentialRecord)


class ExtensionRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert_credential(self, record: ExtensionCredentialRecord) -> None:
        await self._conn.execute(insert_sql("extension_credentials", ExtensionCredentialRecord),
                                 values(record))

    async def find_credentials(self, prefix: str) -> list[ExtensionCredentialRecord]:
        return await fetch_all(
            self._conn, ExtensionCredentialRecord,
            f"SELECT {_CREDENTIALS} FROM extension_credentials WHERE token_prefix = ?",
            (prefix,))

    async def list_credentials(self) -> list[ExtensionCredentialRecord]:
        return await fetch_all(
            self._conn, ExtensionCredentialRecord,
            f"SELECT {_CREDENTIALS} FROM extension_credentials ORDER BY created_at, id")

    async def revoke_credential(self, credential_id: str) -> bool:
        cur = await self._conn.execute(
            "UPDATE extension_credentials SET status = 'revoked' WHERE id = ?",
            (credential_id,))
        return cur.rowcount > 0

    async def touch_credentials(self, used: dict[str, int]) -> None:
        await self._conn.executemany(
            "UPDATE extension_credentials SET last_used_at = ? WHERE id = ?",
            [(when, cid) for cid, when in used.items()])

    async def insert_code(self, record: PairingCodeRecord) -> None:
        await self._conn.execute(insert_sql("pairing_codes", PairingCodeRecord), values(record))

    async def burn_codes(self, now: int) -> int:
        """Mark every open code used; how many there were."""
        cur = await self._conn.execute(
            "UPDATE pairing_codes SET used_at = ? WHERE used_at IS NULL AND expires_at > ?",
            (now, now))
        return cur.rowcount

    async def use_code(self, code_hash: str, now: int) -> PairingCodeRecord | None:
        """Mark an unused, unexpired code used; ``None`` if there is no such code.

        One UPDATE decides, so two redemptions racing for the same code cannot both win.
        """
        cur = await self._conn.execute(
            "UPDATE pairing_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL "
            "AND expires_at > ?", (now, code_hash, now))
        if cur.rowcount == 0:
            return None
        return await fetch_one(
            self._conn, PairingCodeRecord,
            f"SELECT {columns(PairingCodeRecord)} FROM pairing_codes WHERE code_hash = ?",
            (code_hash,))

    async def purge_codes(self, now: int) -> int:
        """Delete expired pairing codes (used or not: nothing reads them afterwards)."""
        cur = await self._conn.execute("DELETE FROM pairing_codes WHERE expires_at <= ?",
                                       (now,))
        return cur.rowcount
