"""Entry points for processes other than the server: the native host and the CLI.

Both run as the OS user who owns ``$BODHI_HOME`` and write the database directly, so the
server need not be running; a running server notices through ``ChangeWatch``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from companion.apps import AppServices, OAuthService
from companion.apps.extension import PAIRING_CODE_TTL_SECS, ExtensionService
from companion.auth.owner_secret import ensure_owner_secret
from companion.auth.principal import OWNER_USER_ID
from companion.events import EventBus
from companion.keyed_digest import KeyedDigest
from companion.settings import load_settings, public_url
from companion.storage import Database
from companion.storage.extension import ExtensionRepository

# The file ``companion.app`` opens; not imported from there to keep the web framework out of
# the native host.
DB_FILE = "bodhi.sqlite"
T = TypeVar("T")

__all__ = ["PAIRING_CODE_TTL_SECS", "new_pairing_code", "oauth_clients", "pair_extension"]


async def _with_service(home: Path, action: Any) -> Any:
    ensure_owner_secret(home)
    db = await Database.open(home / DB_FILE)
    try:
        return await action(ExtensionService(ExtensionRepository(db), KeyedDigest.for_home(home)))
    finally:
        await db.close()


def pair_extension(home: Path, extension_id: str, browser: str) -> dict[str, Any]:
    """Issue an extension credential for the local owner.

    Returns ``{"credential": "bodhiext_...", "url": "http://127.0.0.1:1135"}``; the URL honours
    the port and public host from the environment and ``$BODHI_HOME/settings.yaml``.
    """
    async def issue(service: ExtensionService) -> str:
        _, raw = await service.issue(OWNER_USER_ID, extension_id, browser)
        return raw

    credential = asyncio.run(_with_service(home, issue))
    url = public_url(load_settings({"BODHI_HOME": str(home)}))
    return {"credential": credential, "url": url}


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
