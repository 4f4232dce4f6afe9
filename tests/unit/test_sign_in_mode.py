"""The sign-in mode: ready in local mode from the start (old installs waiting for setup too),
and what a change of mode or provider does to other users, in words and in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from companion.auth import ApiTokenService
from companion.auth.identity import Identity, checked_box, open_identity
from companion.auth.principal import OWNER_USER_ID, Role
from companion.auth.setup import AuthMode, OidcConfig, SetupStatus
from companion.core.errors import AuthenticationError, BadRequestError
from companion.core.settings import load_settings
from companion.storage import AppStateRepository, Database

TEAM = OidcConfig("https://id.example.com/realms/team", "bodhi", "s3cret")
OTHER = OidcConfig("https://login.other.example", "bodhi", None)


@pytest.fixture
async def identity(db: Database, tokens: ApiTokenService, tmp_path: Path
                   ) -> AsyncIterator[Identity]:
    opened = await open_identity(load_settings(env={"BODHI_HOME": str(tmp_path)}), db, tokens,
                                 await checked_box(tmp_path, "", db))
    try:
        yield opened
    finally:
        await opened.close()


async def _choose(identity: Identity, mode: AuthMode, oidc: OidcConfig | None = None) -> None:
    await identity.modes.apply(await identity.modes.plan(mode, None, oidc))


async def _signed_in_user(identity: Identity, tokens: ApiTokenService) -> tuple[str, str]:
    """A user who signed in through the provider: (session id, API token)."""
    user = await identity.users.sign_in("sub-ada", "ada", None)
    session = await identity.sessions.start(user.id, user.username, Role.ADMIN)
    _, token = await tokens.create("ada's", user_id=user.id)
    return session, token


async def test_an_install_still_waiting_for_setup_is_ready_in_local_mode(tmp_path: Path
                                                                         ) -> None:
    path = tmp_path / "bodhi.sqlite"
    db = await Database.open(path)
    # As an install left before this version: never set up, migration 0005 not applied.
    await db.conn.execute("DELETE FROM schema_migrations WHERE version = 5")
    await db.conn.execute("DELETE FROM app_state")
    await db.conn.execute("INSERT INTO app_state VALUES ('status', 'setup')")
    await db.close()

    db = await Database.open(path)
    try:
        values = await AppStateRepository(db).all()
    finally:
        await db.close()

    assert values == {"status": "ready", "auth_mode": "local"}


async def test_a_fresh_install_is_ready(identity: Identity) -> None:
    state = await identity.setup.state()

    assert (state.status, state.auth_mode) == (SetupStatus.READY, AuthMode.LOCAL)


async def test_a_new_name_is_no_change_of_who_signs_in(identity: Identity) -> None:
    change = await identity.modes.plan(AuthMode.LOCAL, "My laptop")

    assert not change.needs_confirmation
    assert change.describe() == ["Name: 'Bodhi companion' -> 'My laptop'."]
    assert (await identity.modes.apply(change)).name == "My laptop"


async def test_choosing_oidc_says_who_can_sign_in(identity: Identity) -> None:
    change = await identity.modes.plan(AuthMode.OIDC, None, TEAM)

    assert change.needs_confirmation
    text = " ".join(change.describe())
    assert TEAM.issuer in text and "first to sign in becomes an admin" in text
    assert "s3cret" not in text and "s3cret" not in repr(change)
    state = await identity.modes.apply(change)
    assert state.auth_mode is AuthMode.OIDC
    assert await identity.setup.oidc_config() == TEAM


async def test_back_to_local_ends_other_users_sessions(identity: Identity,
                                                       tokens: ApiTokenService) -> None:
    await _choose(identity, AuthMode.OIDC, TEAM)
    session, token = await _signed_in_user(identity, tokens)
    mine = await identity.sessions.start(OWNER_USER_ID, OWNER_USER_ID, Role.ADMIN)

    change = await identity.modes.plan(AuthMode.LOCAL)
    assert change.needs_confirmation
    assert "The 1 open browser session(s) of other users end now" in " ".join(
        change.describe())
    await identity.modes.apply(change)

    assert await identity.sessions.principal(session) is None
    assert await identity.sessions.principal(mine) is not None
    assert await identity.setup.oidc_config() is None
    # Accounts and tokens stay, as the confirmation said.
    assert await tokens.verify(token) is not None


async def test_another_provider_removes_the_users_of_the_old_one(
        identity: Identity, tokens: ApiTokenService) -> None:
    await _choose(identity, AuthMode.OIDC, TEAM)
    session, token = await _signed_in_user(identity, tokens)
    await _choose(identity, AuthMode.LOCAL)

    change = await identity.modes.plan(AuthMode.OIDC, None, OTHER)
    assert change.needs_confirmation and change.removes_users
    assert f"The 1 user(s) who signed in through {TEAM.issuer} are removed" in " ".join(
        change.describe())
    await identity.modes.apply(change)

    assert await identity.users.others_than_owner() == ()
    assert await identity.sessions.principal(session) is None
    with pytest.raises(AuthenticationError):
        await tokens.verify(token)


async def test_the_same_provider_again_keeps_its_users(identity: Identity,
                                                       tokens: ApiTokenService) -> None:
    await _choose(identity, AuthMode.OIDC, TEAM)
    await _signed_in_user(identity, tokens)
    await _choose(identity, AuthMode.LOCAL)

    change = await identity.modes.plan(AuthMode.OIDC, None, TEAM)
    assert not change.removes_users
    assert "can sign in again, with the roles they had" in " ".join(change.describe())
    await identity.modes.apply(change)

    assert await identity.users.others_than_owner() == ("sub-ada",)


@pytest.mark.parametrize("oidc", [None, OidcConfig("ftp://id.example.com", "x", None),
                                  OidcConfig("https://id.example.com", "", None)])
async def test_oidc_needs_an_http_issuer_and_a_client_id(identity: Identity,
                                                         oidc: OidcConfig | None) -> None:
    with pytest.raises(BadRequestError):
        await identity.modes.plan(AuthMode.OIDC, None, oidc)
    assert (await identity.setup.state()).auth_mode is AuthMode.LOCAL
