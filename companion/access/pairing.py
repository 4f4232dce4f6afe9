"""Entry points for the CLI (``bodhi pair``, ``bodhi app``).

It runs as the OS user who owns ``$BODHI_HOME`` and writes the database directly, so the
server need not be running; a running server notices through ``ChangeWatch``. (The native host
asks the running companion instead, proven with the owner secret: ``routes/owner.py``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from companion.access import AppServices, OAuthService
from companion.access.extension import PAIRING_CODE_TTL_SECS, ExtensionService
from companion.auth.principal import OWNER_USER_ID
from companion.core.events import EventBus
from companion.core.keyed_digest import KeyedDigest
from companion.core.owner_secret import ensure_owner_secret
from companion.core.settings import load_settings, public_url
from companion.storage import Database
from companion.storage.extension import ExtensionRepository

# The file ``companion.app`` opens; not imported from there to keep the web framework out of
# the CLI's light commands.
DB_FILE = "bodhi.sqlite"
T = TypeVar("T")

__all__ = ["PAIRING_CODE_TTL_SECS", "new_pairing_code", "oauth_clients"]


async def _with_service(home: Path, action: Any) -> Any:
    ensure_owner_secret(home)
    db = await Database.open(home / DB_FILE)
    try:
        return await action(ExtensionService(ExtensionRepository(db), KeyedDigest.for_home(home)))
    finally:
        await db.close()


def new_pairing_code(home: Path) -> str:
    """A short single-use code (``K7QX-M2PD``, 5 minutes) for manual pairing."""
    code: str = asyncio.run(_with_service(
        home, lambda service: service.new_pairing_code(OWNER_USER_ID)))
    return code


async def oauth_clients(home: Path, action: Callable[[OAuthService], Awaitable[T]]) -> T:
    """Run ``action`` on an ``OAuthService`` over ``$BODHI_HOME``'s database (the CLI)."""
    ensure_owner_secret(home)
    db = await Database.open(home / DB_FILE)
    apps = AppServices.build(db, home, public_url(load_settings({"BODHI_HOME": str(home)})),
                             EventBus())
    try:
        return await action(apps.oauth)
    finally:
        apps.close()
        await db.close()
