"""The identity services, built together: setup, sessions, users, OIDC sign-in.

``open_identity`` opens ``$BODHI_HOME/session.sqlite`` beside the main database and wires
the services to each other (sessions refresh through the OIDC client; user changes end
sessions and drop cached tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from companion.auth.oidc import OidcLogin
from companion.auth.sessions import SessionService
from companion.auth.setup import SetupService
from companion.auth.tokens import ApiTokenService
from companion.auth.users import UserService
from companion.storage import (
    SESSION_MIGRATIONS,
    AccessRequestRepository,
    ApiTokenRepository,
    AppStateRepository,
    Database,
    SessionRepository,
    UserRepository,
)

SESSION_DB_FILE = "session.sqlite"


@dataclass(frozen=True)
class Identity:
    db: Database
    session_db: Database
    setup: SetupService
    sessions: SessionService
    users: UserService
    oidc: OidcLogin

    async def close(self) -> None:
        await self.session_db.close()


async def open_identity(home: Path, db: Database, tokens: ApiTokenService,
                        transport: httpx.AsyncBaseTransport | None = None) -> Identity:
    session_db = await Database.open(home / SESSION_DB_FILE, SESSION_MIGRATIONS)
    session_repo = SessionRepository(session_db)
    setup = SetupService(AppStateRepository(db))
    sessions = SessionService(session_repo)
    oidc = OidcLogin(setup, session_repo, transport)
    sessions.refresher = oidc.refresh
    users = UserService(UserRepository(db), AccessRequestRepository(db), sessions, tokens,
                        ApiTokenRepository(db))
    return Identity(db, session_db, setup, sessions, users, oidc)
