"""SQLite storage: the connection, migrations, and one repository module per aggregate."""

from companion.storage.app_state import (
    AppStateRepository,
    OwnerTicketRepository,
    SettingOverrideRepository,
)
from companion.storage.db import ChangeWatch, Database
from companion.storage.sessions import SESSION_MIGRATIONS, SessionRecord, SessionRepository
from companion.storage.tokens import ApiTokenRecord, ApiTokenRepository, TokenMatch
from companion.storage.users import (
    RoleRequestRecord,
    RoleRequestRepository,
    UserRecord,
    UserRepository,
)

__all__ = [
    "SESSION_MIGRATIONS",
    "ApiTokenRecord",
    "ApiTokenRepository",
    "AppStateRepository",
    "ChangeWatch",
    "Database",
    "OwnerTicketRepository",
    "RoleRequestRecord",
    "RoleRequestRepository",
    "SessionRecord",
    "SessionRepository",
    "SettingOverrideRepository",
    "TokenMatch",
    "UserRecord",
    "UserRepository",
]
