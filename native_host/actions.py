"""The native host's actions: what the extension may ask of the OS user's side.

``status`` and ``start`` look at and launch the companion; ``pair`` issues the extension
credential straight into the database (the host runs as the OS user, who owns
``$BODHI_HOME``); ``open`` mints a one-time owner-login URL for the web UI. Each action is
``(message, caller) -> result`` and raises ``ActionError`` for a refusal the extension should
show.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from companion import __version__
from companion.apps.pairing import DB_FILE, pair_extension
from companion.auth.owner_login import issue_ticket, owner_login_url
from companion.auth.owner_secret import ensure_owner_secret
from companion.keyed_digest import KeyedDigest
from companion.settings import Settings, load_settings, public_url
from companion.storage import Database
from native_host.caller import Caller
from native_host.ids import CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID

Action = Callable[[dict[str, Any], Caller], dict[str, Any]]

START_TIMEOUT_SECS = 60.0
PROBE_TIMEOUT_SECS = 2.0
LOG_TAIL_LINES = 15


class ActionError(Exception):
    """A refusal with a stable code, sent back as ``{"ok": false, "error": {...}}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _settings() -> Settings:
    return load_settings()


def companion_url(settings: Settings) -> str:
    return public_url(settings)


def _probe(url: str) -> dict[str, Any] | None:
    """The companion's /bodhi/v1/info, or None when nothing answers there."""
    try:
        response = httpx.get(f"{url}/bodhi/v1/info", timeout=PROBE_TIMEOUT_SECS)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    info: dict[str, Any] = response.json()
    return info


def ping(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    return {"pong": True, "version": __version__}


def status(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    settings = _settings()
    url = companion_url(settings)
    info = _probe(url)
    result: dict[str, Any] = {"running": info is not None, "url": url,
                              "host_version": __version__}
    if info is not None:
        result.update(version=info.get("version"), status=info.get("status"))
    return result


def _log_tail(settings: Settings) -> str:
    path = settings.home / "logs" / "bodhi.log"
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])


def _launch(settings: Settings) -> subprocess.Popen[bytes]:
    # A new session, so the companion outlives this host (the browser ends the host when the
    # port closes); no inherited stdio, so nothing it prints can corrupt our frames.
    return subprocess.Popen([sys.executable, "-m", "companion", "serve"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env=dict(os.environ), cwd=settings.home)


def start(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    settings = _settings()
    url = companion_url(settings)
    if (info := _probe(url)) is not None:
        return {"running": True, "started": False, "url": url, "version": info.get("version")}
    settings.home.mkdir(parents=True, exist_ok=True)
    proc = _launch(settings)
    deadline = time.monotonic() + START_TIMEOUT_SECS
    while time.monotonic() < deadline:
        if (info := _probe(url)) is not None:
            # Reap it whenever it exits, so it never lingers as a zombie of this host.
            threading.Thread(target=proc.wait, name="reap-companion", daemon=True).start()
            return {"running": True, "started": True, "url": url, "pid": proc.pid,
                    "version": info.get("version")}
        if proc.poll() is not None:
            raise ActionError("start_failed", f"bodhi serve exited with {proc.returncode}:\n"
                              f"{_log_tail(settings)}")
        time.sleep(0.2)
    raise ActionError("start_failed", f"bodhi serve did not answer at {url} within "
                      f"{START_TIMEOUT_SECS:.0f} s")


def _our_caller(caller: Caller) -> str:
    if caller.extension_id not in {CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID}:
        raise ActionError("unknown_caller",
                          "pairing is only for the Bodhi extension launched by a browser")
    assert caller.extension_id is not None
    return caller.extension_id


def pair(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    extension_id = _our_caller(caller)
    settings = _settings()
    paired: dict[str, Any] = pair_extension(settings.home, extension_id, caller.browser)
    paired.setdefault("url", companion_url(settings))
    return paired


def open_web_ui(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    _our_caller(caller)
    settings = _settings()
    ensure_owner_secret(settings.home)

    async def mint() -> str:
        db = await Database.open(settings.home / DB_FILE)
        try:
            return await issue_ticket(db, KeyedDigest.for_home(settings.home))
        finally:
            await db.close()

    return {"url": owner_login_url(companion_url(settings), asyncio.run(mint()))}


ACTIONS: dict[str, Action] = {
    "ping": ping,
    "status": status,
    "start": start,
    "pair": pair,
    "open": open_web_ui,
}
