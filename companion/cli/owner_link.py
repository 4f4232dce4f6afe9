"""One-time owner sign-in links (``bodhi open``, ``bodhi mcp login``): printed, and opened in
the browser when there is one to open."""

from __future__ import annotations

import asyncio
import os
import sys
import webbrowser

from companion.auth.owner_login import issue_ticket, owner_login_url
from companion.cli.database import with_database
from companion.core.keyed_digest import KeyedDigest
from companion.core.settings import Settings, public_url

OPEN_NO_BROWSER_ENV = "BODHI_OPEN_NO_BROWSER"


def may_open_browser() -> bool:
    """Never in CI or without a display: a test or a server must not start a browser."""
    if os.environ.get("CI") or os.environ.get(OPEN_NO_BROWSER_ENV):
        return False
    return sys.platform != "linux" or bool(os.environ.get("DISPLAY")
                                           or os.environ.get("WAYLAND_DISPLAY"))


def open_owner_link(settings: Settings, *, then: str | None = None, no_browser: bool = False,
                    why: str = "Sign in as the owner") -> str:
    """Print (and open) a link that signs the owner in, then continues to ``then``."""
    tickets = KeyedDigest.for_home(settings.home)
    ticket = asyncio.run(with_database(settings, lambda db: issue_ticket(db, tickets)))
    url = owner_login_url(public_url(settings), ticket, then)
    print(f"{why} (one use, within 60 seconds):", file=sys.stderr)
    print(url)
    if not no_browser and may_open_browser():
        webbrowser.open(url)
    return url
