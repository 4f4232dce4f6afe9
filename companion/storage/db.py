"""The SQLite database: opening it (WAL), forward-only numbered migrations, change detection.

Migrations are ``migrations/NNNN_name.sql`` files applied in order, each in its own
transaction, and recorded in ``schema_migrations``. They are never edited once released.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import time
from importlib import resources
from pathlib import Path

import aiosqlite

from companion.core.home import PRIVATE_FILE_MODE, private_dir

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

# A readiness probe answers within this, even when the database is stuck behind a lock.
READINESS_TIMEOUT_SECS = 2.0


def _migrations(folder: str) -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("companion.storage").joinpath(folder).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """One aiosqlite connection in WAL mode; repositories borrow it."""

    def __init__(self, conn: aiosqlite.Connection, path: Path,
                 migrations: str = "migrations") -> None:
        self.conn = conn
        self.path = path
        self._migrations = migrations
        self._file = _file_identity(path)

    @classmethod
    async def open(cls, path: Path, migrations: str = "migrations") -> Database:
        """Open (creating) ``path`` and apply the SQL files of the ``migrations`` folder.

        A new file is created 0600 before SQLite opens it: SQLite gives its ``-wal`` and
        ``-shm`` files the database file's mode.
        """
        private_dir(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA busy_timeout = 10000")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        db = cls(conn, path, migrations)
        await db.migrate()
        return db

    async def migrate(self) -> list[str]:
        """Apply pending migrations; safe when two processes start at once."""
        applied: list[str] = []
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            await self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            async with self.conn.execute("SELECT version FROM schema_migrations") as cur:
                done = {row[0] for row in await cur.fetchall()}
            for version, name, sql in _migrations(self._migrations):
                if version in done:
                    continue
                for statement in _statements(sql):
                    await self.conn.execute(statement)
                await self.conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, int(time.time())),
                )
                applied.append(name)
            await self.conn.execute("COMMIT")
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        return applied

    async def close(self) -> None:
        await self.conn.close()

    async def problem(self) -> str | None:
        """Why this database cannot serve now, or None when it can: its file is still the one
        opened (a removed or replaced file would take every later write nowhere), it answers a
        query, and every migration is applied."""
        try:
            if _file_identity(self.path) != self._file:
                return f"the database file {self.path} was replaced since the companion started"
        except FileNotFoundError:
            return f"the database file {self.path} is missing"
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECS):
                async with self.conn.execute("SELECT version FROM schema_migrations") as cur:
                    applied = {row[0] for row in await cur.fetchall()}
        except TimeoutError:
            return f"the database did not answer within {READINESS_TIMEOUT_SECS:g} seconds"
        except (sqlite3.Error, ValueError) as exc:  # aiosqlite: ValueError once closed
            return f"the database does not answer ({exc})"
        pending = [name for version, name, _ in _migrations(self._migrations)
                   if version not in applied]
        if pending:
            return f"{len(pending)} database migration(s) not applied: {', '.join(pending)}"
        return None


def _file_identity(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


class ChangeWatch:
    """Tells cheaply whether any other connection (or process) committed to the database.

    SQLite bumps ``PRAGMA data_version`` for a connection whenever another connection
    commits. Reading it on a private synchronous connection costs microseconds, which lets
    in-memory caches (validated tokens) stay correct when the CLI edits the DB.
    """

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._version = self._read()

    def _read(self) -> int:
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def changed(self) -> bool:
        version = self._read()
        if version == self._version:
            return False
        self._version = version
        return True

    def close(self) -> None:
        self._conn.close()
