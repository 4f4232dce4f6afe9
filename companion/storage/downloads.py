"""Repository for model download jobs (table ``download_jobs``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import aiosqlite

from companion.storage.db import Database

ACTIVE_STATUSES = ("pending", "running")


@dataclass(frozen=True)
class DownloadRecord:
    id: str
    repo: str
    filename: str
    revision: str
    status: str
    total_bytes: int | None
    downloaded_bytes: int
    error: str | None
    created_at: int
    updated_at: int
    error_code: str | None = None


_COLUMNS = ("id, repo, filename, revision, status, total_bytes, downloaded_bytes, error,"
            " created_at, updated_at, error_code")


def _record(row: aiosqlite.Row) -> DownloadRecord:
    return DownloadRecord(*tuple(row))


class DownloadRepository:
    def __init__(self, db: Database) -> None:
        self._conn = db.conn

    async def insert(self, record: DownloadRecord) -> bool:
        """Insert a job; False when an unfinished job for the same file already exists."""
        try:
            await self._conn.execute(
                f"INSERT INTO download_jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.repo, record.filename, record.revision, record.status,
                 record.total_bytes, record.downloaded_bytes, record.error, record.created_at,
                 record.updated_at, record.error_code))
        except sqlite3.IntegrityError:
            return False
        return True

    async def get(self, job_id: str) -> DownloadRecord | None:
        async with self._conn.execute(
                f"SELECT {_COLUMNS} FROM download_jobs WHERE id = ?", (job_id,)) as cur:
            row = await cur.fetchone()
        return _record(row) if row else None

    async def find_active(self, repo: str, filename: str) -> DownloadRecord | None:
        async with self._conn.execute(
                f"SELECT {_COLUMNS} FROM download_jobs WHERE repo = ? AND filename = ? AND "
                "status IN ('pending', 'running')", (repo, filename)) as cur:
            row = await cur.fetchone()
        return _record(row) if row else None

    async def list_active(self) -> list[DownloadRecord]:
        async with self._conn.execute(
                f"SELECT {_COLUMNS} FROM download_jobs WHERE status IN ('pending', 'running') "
                "ORDER BY created_at, id") as cur:
            return [_record(row) for row in await cur.fetchall()]

    async def page(self, offset: int, limit: int) -> tuple[list[DownloadRecord], int]:
        async with self._conn.execute("SELECT COUNT(*) FROM download_jobs") as cur:
            row = await cur.fetchone()
        total = int(row[0]) if row else 0
        async with self._conn.execute(
                f"SELECT {_COLUMNS} FROM download_jobs ORDER BY created_at DESC, id "
                "LIMIT ? OFFSET ?", (limit, offset)) as cur:
            return [_record(r) for r in await cur.fetchall()], total

    async def update(self, job_id: str, now: int, **fields: object) -> None:
        """Set the given columns (status, total_bytes, downloaded_bytes, error, error_code)."""
        allowed = {"status", "total_bytes", "downloaded_bytes", "error", "error_code"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"cannot update {sorted(fields)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self._conn.execute(
            f"UPDATE download_jobs SET {assignments}, updated_at = ? WHERE id = ?",
            (*fields.values(), now, job_id))
