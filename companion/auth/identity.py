"""The identity services, built together: setup, sessions, users, OIDC sign-in.

``open_identity`` opens ``$BODHI_HOME/session.sqlite`` beside the main database and wires
the services to each other (sessions refresh through the OIDC client; user changes end
sessions and drop cached tokens). ``checked_box`` loads the key for secrets at rest and checks
it against the database; ``open_identity`` then seals any secret older versions stored in
clear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from companion.auth.oidc import OidcLogin
from companion.auth.sessions import SessionService
from companion.auth.setup import SetupService
from companion.auth.sign_in_mode import SignInModes
from companion.auth.tokens import ApiTokenService
from companion.auth.users import UserService
from companion.core.events import EventBus
from companion.core.keyed_digest import KeyedDigest
from companion.core.secrets_box import SecretBox, check_label, load_box
from companion.core.settings import Settings
from companion.core.upstream import LazyClient
from companion.storage import (
    SESSION_MIGRATIONS,
    ApiTokenRepository,
    AppStateRepository,
    Database,
    RoleRequestRepository,
    SessionRepository,
    UserRepository,
)

if TYPE_CHECKING:
    import httpx

KEY_CHECK_STATE = "encryption_key_check"


@dataclass(frozen=True)
class Identity:
    db: Database
    session_db: Database
    setup: SetupService
    sessions: SessionService
    users: UserService
    oidc: OidcLogin
    tickets: KeyedDigest      # owner-login tickets are stored under it
    modes: SignInModes
    own_http: LazyClient | None = None   # made here for want of a shared one

    async def close(self) -> None:
        await self.session_db.close()
        if self.own_http is not None:
            await self.own_http.aclose()


async def checked_box(home: Path, key_setting: str, db: Database) -> SecretBox:
    """The box for secrets at rest, refused (not raised) when the key is not the stored one."""
    box = load_box(home, key_setting)
    state = AppStateRepository(db)
    fresh = check_label(box, (await state.all()).get(KEY_CHECK_STATE))
    if fresh is not None:
        await state.put_all({KEY_CHECK_STATE: fresh})
    return box


async def open_identity(settings: Settings, db: Database, tokens: ApiTokenService,
                        box: SecretBox, http: Callable[[], httpx.AsyncClient] | None = None,
                        bus: EventBus | None = None) -> Identity:
    """``http``: the shared client the identity provider is reached with. Callers that sign
    nobody in (the CLI, some tests) may leave it out; one is made then, and
    ``Identity.close`` closes it. ``bus``: where users' access requests are announced."""
    session_db = await Database.open(settings.session_db_path, SESSION_MIGRATIONS)
    session_repo = SessionRepository(session_db)
    setup = SetupService(AppStateRepository(db), box)
    sessions = SessionService(session_repo, box)
    if box.usable:
        await setup.seal_plaintext()
        await sessions.seal_plaintext()
    own_http = None
    if http is None:
        http = own_http = LazyClient()
    oidc = OidcLogin(setup, session_repo, http)
    sessions.refresher = oidc.refresh
    users = UserService(UserRepository(db), RoleRequestRepository(db), sessions, tokens,
                        ApiTokenRepository(db), bus)
    return Identity(db, session_db, setup, sessions, users, oidc,
                    KeyedDigest.for_home(settings.home), SignInModes(setup, users, sessions),
                    own_http)
