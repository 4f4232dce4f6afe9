"""How the CLI reaches ``$BODHI_HOME``'s database.

The commands run as the OS user who owns the home and write the database directly, so the
server need not be running; a running server notices through ``ChangeWatch``. (The native host
asks the running companion instead, proven with the owner secret: ``routes/owner.py``.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from companion.access import AppServices, OAuthService
from companion.access.extension import ExtensionService
from companion.auth.principal import OWNER_USER_ID
from companion.core.events import EventBus
from companion.core.keyed_digest import KeyedDigest
from companion.core.owner_secret import ensure_owner_secret
from companion.core.settings import Settings, public_url
from companion.storage import Database
from companion.storage.extension import ExtensionRepository

T = TypeVar("T")


async def with_database(settings: Settings, action: Callable[[Database], Awaitable[T]]) -> T:
    ensure_owner_secret(settings.home)
    db = await Database.open(settings.db_path)
    try:
        return await action(db)
    finally:
        await db.close()


async def new_pairing_code(settings: Settings) -> str:
    """A short single-use code (``K7QX-M2PD``, 5 minutes) for manual pairing."""
    codes = KeyedDigest.for_home(settings.home)
    return await with_database(settings, lambda db: ExtensionService(
        ExtensionRepository(db), codes).new_pairing_code(OWNER_USER_ID))


async def with_oauth_clients(settings: Settings,
                             action: Callable[[OAuthService], Awaitable[T]]) -> T:
    async def run(db: Database) -> T:
        apps = AppServices.build(db, settings.home, public_url(settings), EventBus())
        try:
            return await action(apps.oauth)
        finally:
            apps.close()

    return await with_database(settings, run)
