"""companion/core/secrets_box.py and its users: the OIDC client secret and session refresh tokens
are sealed in the real SQLite files, plaintext left by older versions is sealed at startup,
and a wrong key gives a clear error while the server keeps serving."""

from __future__ import annotations

import base64
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from companion.app import build_app
from companion.auth import ApiTokenService
from companion.auth.identity import checked_box, open_identity
from companion.auth.sessions import ProviderTokens
from companion.auth.setup import AuthMode, OidcConfig, SetupService
from companion.core.errors import ConfigError
from companion.core.secrets_box import (
    KEY_FILE,
    PREFIX,
    SALT_FILE,
    WRONG_KEY_MESSAGE,
    SecretBox,
    SecretKeyError,
    key_from_file,
    key_from_setting,
    load_box,
)
from companion.core.settings import MASKED, load_settings
from companion.storage import (
    ApiTokenRepository,
    AppStateRepository,
    Database,
    SessionRepository,
)
from companion.storage.sessions import SessionRecord

CLIENT_SECRET = "oidc-client-secret-7f3a9c"
REFRESH_TOKEN = "provider-refresh-token-5d21e8"
KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.urlsafe_b64encode(b"B" * 32).decode().rstrip("=")
OIDC = OidcConfig("https://id.example.com", "bodhi", CLIENT_SECRET)


def _file_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as an attacker who copies them sees them."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def _rows(path: Path, sql: str) -> list[Any]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_round_trip_uses_a_fresh_nonce_and_binds_the_purpose() -> None:
    box = SecretBox(b"k" * 32)
    first, second = box.seal("hello", "row:1"), box.seal("hello", "row:1")
    assert first.startswith(PREFIX) and first != second
    assert box.open(first, "row:1") == box.open(second, "row:1") == "hello"
    with pytest.raises(SecretKeyError):
        box.open(first, "row:2")              # copied into another row: does not open


def test_tampered_or_foreign_values_fail_with_the_wrong_key_error() -> None:
    sealed = SecretBox(b"k" * 32).seal("hello", "p")
    with pytest.raises(SecretKeyError) as caught:
        SecretBox(b"x" * 32).open(sealed, "p")
    assert caught.value.status == 503 and "BODHI_ENCRYPTION_KEY" in caught.value.message
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SecretKeyError):
        SecretBox(b"k" * 32).open(flipped, "p")


def test_setting_accepts_base64_keys_and_stretches_passphrases(tmp_path: Path) -> None:
    assert key_from_setting(KEY_A, tmp_path) == b"A" * 32
    assert key_from_setting(KEY_B, tmp_path) == b"B" * 32
    derived = key_from_setting("correct horse battery staple", tmp_path)
    assert len(derived) == 32 and derived == key_from_setting("correct horse battery staple",
                                                              tmp_path)
    assert derived != key_from_setting("correct horse battery stapler", tmp_path)
    assert stat.S_IMODE((tmp_path / SALT_FILE).stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="at least 12"):
        key_from_setting("short", tmp_path)


def test_generated_key_file_is_private_and_stable(tmp_path: Path) -> None:
    key = key_from_file(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert key_from_file(tmp_path) == key and len(key) == 32


async def test_client_secret_is_not_plaintext_in_the_database(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bodhi.sqlite")
    try:
        box = await checked_box(tmp_path, "", db)
        setup = SetupService(AppStateRepository(db), box)
        await setup.save(AuthMode.OIDC, "Team", OIDC)
        assert (await setup.oidc_config()) == OIDC
    finally:
        await db.close()
    assert CLIENT_SECRET.encode() not in _file_bytes(tmp_path / "bodhi.sqlite")
    [(stored,)] = _rows(tmp_path / "bodhi.sqlite",
                        "SELECT value FROM app_state WHERE key = 'oidc_client_secret'")
    assert stored.startswith(PREFIX)


async def _plaintext_home(home: Path) -> None:
    """What an older version left behind: a clear client secret and refresh token."""
    db = await Database.open(home / "bodhi.sqlite")
    sessions = await Database.open(home / "session.sqlite", "session_migrations")
    try:
        await AppStateRepository(db).put_all({
            "status": "ready", "auth_mode": "oidc", "name": "Team",
            "oidc_issuer": OIDC.issuer, "oidc_client_id": OIDC.client_id,
            "oidc_client_secret": CLIENT_SECRET})
        await SessionRepository(sessions).insert(SessionRecord(
            "hash1", "u1", "alice", "resource_user", 1, 2**40, REFRESH_TOKEN, 1))
    finally:
        await db.close()
        await sessions.close()


async def _start_identity(home: Path, key: str) -> OidcConfig | None:
    """What the server does at startup; returns the OIDC configuration it then reads."""
    db = await Database.open(home / "bodhi.sqlite")
    try:
        identity = await open_identity(load_settings(env={"BODHI_HOME": str(home)}), db,
                                       ApiTokenService(ApiTokenRepository(db)),
                                       await checked_box(home, key, db))
        config = await identity.setup.oidc_config()
        await identity.close()
        return config
    finally:
        await db.close()


async def test_plaintext_left_by_older_versions_is_sealed_at_startup(tmp_path: Path) -> None:
    await _plaintext_home(tmp_path)
    assert await _start_identity(tmp_path, KEY_A) == OIDC
    for name, secret in (("bodhi.sqlite", CLIENT_SECRET), ("session.sqlite", REFRESH_TOKEN)):
        assert secret.encode() not in _file_bytes(tmp_path / name)
    [(token,)] = _rows(tmp_path / "session.sqlite", "SELECT refresh_token FROM sessions")
    assert token.startswith(PREFIX)
    assert load_box(tmp_path, KEY_A).open(token, "session_refresh_token:hash1") == REFRESH_TOKEN


async def test_session_refresh_uses_and_reseals_the_token(tmp_path: Path) -> None:
    await _plaintext_home(tmp_path)
    db = await Database.open(tmp_path / "bodhi.sqlite")
    try:
        identity = await open_identity(load_settings(env={"BODHI_HOME": str(tmp_path)}), db,
                                       ApiTokenService(ApiTokenRepository(db)),
                                       await checked_box(tmp_path, KEY_A, db))
        seen: list[str] = []

        async def refresher(token: str) -> ProviderTokens:
            seen.append(token)
            return ProviderTokens("rotated-refresh-token-91b0", 2**40)

        identity.sessions.refresher = refresher
        session_id = await identity.sessions.start("u1", "alice", None,
                                                   ProviderTokens(REFRESH_TOKEN, 1))
        assert await identity.sessions.principal(session_id) is not None
        assert seen == [REFRESH_TOKEN]
        await identity.close()
    finally:
        await db.close()
    assert b"rotated-refresh-token-91b0" not in _file_bytes(tmp_path / "session.sqlite")


async def test_wrong_key_refuses_secrets_but_leaves_the_data_alone(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bodhi.sqlite")
    try:
        setup = SetupService(AppStateRepository(db), await checked_box(tmp_path, KEY_A, db))
        await setup.save(AuthMode.OIDC, "Team", OIDC)
        before = await AppStateRepository(db).all()
        wrong = await checked_box(tmp_path, KEY_B, db)
        assert not wrong.usable
        with pytest.raises(SecretKeyError) as caught:
            await SetupService(AppStateRepository(db), wrong).oidc_config()
        assert caught.value.message == WRONG_KEY_MESSAGE
        assert await AppStateRepository(db).all() == before
        right = await checked_box(tmp_path, KEY_A, db)
        assert (await SetupService(AppStateRepository(db), right).oidc_config()) == OIDC
    finally:
        await db.close()


async def test_server_with_a_wrong_key_keeps_serving_and_says_why(
        tmp_path: Path, aiohttp_client: Any) -> None:
    await _plaintext_home(tmp_path)
    env = {"BODHI_HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf")}
    await _start_identity(tmp_path, KEY_A)          # seals the plaintext under KEY_A
    app = await build_app(load_settings(env={**env, "BODHI_ENCRYPTION_KEY": KEY_B}))
    client = await aiohttp_client(app)
    assert (await client.get("/ping")).status == 200
    response = await client.post("/bodhi/v1/auth/initiate")
    body = await response.json()
    assert response.status == 503
    assert body["error"]["code"] == "crypto_error-wrong_key"
    assert "BODHI_ENCRYPTION_KEY" in body["error"]["message"]
    assert KEY_A not in await response.text() and KEY_B not in await response.text()


def test_the_key_setting_is_never_shown(tmp_path: Path) -> None:
    from companion.core.runtime_settings import RuntimeSettings

    settings = load_settings(env={"BODHI_HOME": str(tmp_path), "BODHI_ENCRYPTION_KEY": KEY_A})
    view = RuntimeSettings(settings, None).get("BODHI_ENCRYPTION_KEY")  # type: ignore[arg-type]
    assert view.current_value == MASKED and view.source == "environment"
