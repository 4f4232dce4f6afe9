"""companion/storage + companion/auth: the real SQLite database, API tokens, owner secret."""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

import pytest

from companion.auth import TOKEN_PREFIX, ApiTokenService, TokenScope, ensure_owner_secret
from companion.core.errors import AuthenticationError, BadRequestError, NotFoundError
from companion.core.owner_secret import read_owner_secret
from companion.storage import ApiTokenRepository, ChangeWatch, Database

# --- database ------------------------------------------------------------------------------


MIGRATIONS = sorted(p.name for p in (Path(__file__).parents[2] / "companion" / "storage"
                                     / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql"))


async def scalar(db: Database, sql: str) -> object:
    async with db.conn.execute(sql) as cur:
        row = await cur.fetchone()
    assert row is not None
    return row[0]


async def test_database_is_wal_and_migrated(db: Database) -> None:
    assert await scalar(db, "PRAGMA journal_mode") == "wal"
    assert await scalar(db, "PRAGMA foreign_keys") == 1
    async with db.conn.execute("SELECT version, name FROM schema_migrations") as cur:
        rows = [tuple(r) for r in await cur.fetchall()]
    assert rows == [(int(name[:4]), name) for name in MIGRATIONS]
    assert rows[:2] == [(1, "0001_api_tokens.sql"), (2, "0002_identity.sql")]
    assert await scalar(db, "SELECT count(*) FROM api_tokens") == 0


async def test_migrations_apply_once(db: Database) -> None:
    assert await db.migrate() == []

    again = await Database.open(db.path)
    try:
        assert await again.migrate() == []
        assert await scalar(again, "SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)
        assert await scalar(again, "PRAGMA journal_mode") == "wal"
    finally:
        await again.close()


async def test_change_watch_sees_commits_of_other_connections(db: Database) -> None:
    watch = ChangeWatch(db.path)
    try:
        assert watch.changed() is False
        await db.conn.execute("INSERT INTO schema_migrations VALUES (99, 'x', 0)")
        assert watch.changed() is True
        assert watch.changed() is False  # reported once per change
    finally:
        watch.close()


def files_containing(folder: Path, needle: bytes) -> list[str]:
    files = list(folder.glob("bodhi.sqlite*"))
    assert files, "the database wrote no files"
    return [p.name for p in files if needle in p.read_bytes()]


# --- API tokens ----------------------------------------------------------------------------


async def test_create_returns_a_bodhiapp_token_shown_once(tokens: ApiTokenService) -> None:
    token, raw = await tokens.create("  my app  ")

    assert re.fullmatch(r"bodhiapp_[A-Za-z0-9_-]{43}", raw)
    assert raw.startswith(TOKEN_PREFIX)
    assert token.name == "my app"
    assert token.scopes == frozenset({TokenScope.USER.value})
    assert token.active is True
    assert [t.id for t in await tokens.list()] == [token.id]


async def test_database_never_holds_the_raw_token(db: Database, tokens: ApiTokenService,
                                                  tmp_path: Path) -> None:
    token, raw = await tokens.create("app", TokenScope.POWER_USER)

    async with db.conn.execute("SELECT * FROM api_tokens") as cur:
        rows = [dict(r) for r in await cur.fetchall()]
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == token.id
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(row["token_prefix"]) and len(row["token_prefix"]) < len(raw) // 2
    assert row["scopes"] == "scope_token_power_user"
    assert all(raw not in str(value) for value in row.values())
    # Nor any file the database wrote (main file, WAL, shared memory).
    assert files_containing(tmp_path, raw.encode()) == []
    assert files_containing(tmp_path, row["token_hash"].encode())  # the scan does see rows


async def test_verify_returns_the_token(tokens: ApiTokenService) -> None:
    token, raw = await tokens.create("app")

    verified = await tokens.verify(raw)

    assert verified is not None
    assert verified.id == token.id
    assert verified.active


def _mangle(raw: str, how: str) -> str:
    if how == "last_char":  # same lookup prefix, different digest
        return raw[:-1] + ("A" if raw[-1] != "A" else "B")
    if how == "extra_char":
        return raw + "x"
    if how == "unknown_prefix":
        return TOKEN_PREFIX + "x" * 43
    return TOKEN_PREFIX


@pytest.mark.parametrize("how", ["last_char", "extra_char", "unknown_prefix", "prefix_only"])
async def test_wrong_token_is_refused(tokens: ApiTokenService, how: str) -> None:
    _, raw = await tokens.create("app")
    assert await tokens.verify(raw) is not None  # the real one is cached

    with pytest.raises(AuthenticationError) as info:
        await tokens.verify(_mangle(raw, how))

    assert info.value.code == "auth_error-invalid_token"
    assert info.value.status == 401


@pytest.mark.parametrize("raw", ["", "sk-abc", "Bodhiapp_upper", "eyJhbGciOi.jwt.like"])
async def test_non_api_token_is_not_ours(tokens: ApiTokenService, raw: str) -> None:
    await tokens.create("app")

    assert await tokens.verify(raw) is None


async def test_revoked_token_is_refused_as_inactive(tokens: ApiTokenService) -> None:
    token, raw = await tokens.create("app")
    assert await tokens.verify(raw) is not None  # now cached

    revoked = await tokens.revoke(token.id)

    assert revoked.id == token.id and revoked.active is False
    with pytest.raises(AuthenticationError) as info:
        await tokens.verify(raw)
    assert info.value.code == "auth_error-token_inactive"
    assert [t.active for t in await tokens.list()] == [False]


async def test_revoking_one_token_leaves_others(tokens: ApiTokenService) -> None:
    first, first_raw = await tokens.create("one")
    _, second_raw = await tokens.create("two")

    await tokens.revoke(first.id)

    assert await tokens.verify(second_raw) is not None
    with pytest.raises(AuthenticationError):
        await tokens.verify(first_raw)


async def test_revoke_unknown_id(tokens: ApiTokenService) -> None:
    with pytest.raises(NotFoundError) as info:
        await tokens.revoke("no-such-id")

    assert info.value.code == "db_error-item_not_found"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_create_refuses_bad_names(tokens: ApiTokenService, name: str) -> None:
    with pytest.raises(BadRequestError) as info:
        await tokens.create(name)

    assert info.value.param == "name"
    assert await tokens.list() == []


async def test_revoke_from_another_connection_is_seen_on_the_next_verify(
        db: Database) -> None:
    """The CLI revokes through its own connection (another process); the server's cached
    token must stop working on its very next request."""
    watch = ChangeWatch(db.path)
    server = ApiTokenService(ApiTokenRepository(db), watch)
    unwatched = ApiTokenService(ApiTokenRepository(db))
    try:
        token, raw = await server.create("app")
        assert await server.verify(raw) is not None      # cached from here on
        assert await unwatched.verify(raw) is not None   # cached too

        cli_db = await Database.open(db.path)
        try:
            await ApiTokenService(ApiTokenRepository(cli_db)).revoke(token.id)
        finally:
            await cli_db.close()

        with pytest.raises(AuthenticationError) as info:
            await server.verify(raw)
        assert info.value.code == "auth_error-token_inactive"
        # Control: without the watch, the cache would still accept it. This shows the
        # check above passed because of the ChangeWatch, not because nothing was cached.
        cached = await unwatched.verify(raw)
        assert cached is not None and cached.id == token.id
    finally:
        watch.close()


async def test_token_created_by_another_connection_verifies(db: Database,
                                                            tokens: ApiTokenService) -> None:
    cli_db = await Database.open(db.path)
    try:
        _, raw = await ApiTokenService(ApiTokenRepository(cli_db)).create("from cli")
    finally:
        await cli_db.close()

    verified = await tokens.verify(raw)

    assert verified is not None and verified.name == "from cli"


# --- owner secret --------------------------------------------------------------------------


def test_owner_secret_is_private_and_stable(tmp_path: Path) -> None:
    home = tmp_path / "new-home"

    path = ensure_owner_secret(home)
    secret = path.read_text(encoding="ascii")

    assert path == home / "owner.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 32
    assert ensure_owner_secret(home) == path
    assert path.read_text(encoding="ascii") == secret
    assert read_owner_secret(home) == secret.strip()


def test_owner_secret_permissions_are_repaired(tmp_path: Path) -> None:
    path = ensure_owner_secret(tmp_path)
    secret = path.read_text(encoding="ascii")
    path.chmod(0o644)

    ensure_owner_secret(tmp_path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="ascii") == secret


def test_owner_secrets_differ_between_homes(tmp_path: Path) -> None:
    assert read_owner_secret(tmp_path / "a") != read_owner_secret(tmp_path / "b")


async def test_last_use_is_written_in_a_batch(tokens: ApiTokenService) -> None:
    token, raw = await tokens.create("used")
    _, _idle = await tokens.create("idle")
    await tokens.verify(raw)
    await tokens.verify(raw)
    assert all(t.last_used_at is None for t in await tokens.list())  # nothing written yet

    await tokens.flush_last_used()

    listed = {t.name: t.last_used_at for t in await tokens.list()}
    assert listed["used"] is not None and listed["used"] >= token.created_at
    assert listed["idle"] is None
