"""SQLite storage: the connection, migrations, and one repository module per aggregate."""

from companion.storage.db import ChangeWatch, Database
from companion.storage.tokens import ApiTokenRecord, ApiTokenRepository

__all__ = ["ApiTokenRecord", "ApiTokenRepository", "ChangeWatch", "Database"]
