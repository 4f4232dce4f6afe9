"""The native host's actions: what the extension may ask of the OS user's side.

``status`` and ``start`` look at and launch the companion; ``pair`` gets the extension a
credential and ``open`` a one-time owner-login URL for the web UI, both over HTTP from the
running companion (started first when it is not running), authenticated with the owner
secret (``native_host.companion_link``). The host never opens the database, and it talks to
whatever answers on the port only after that proves it is the companion. Each action is
``(message, caller) -> result`` and raises ``ActionError`` for a refusal the extension should
show.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from companion import __version__
from companion.core.self_command import module_command, outliving_env
from companion.core.settings import Settings, load_settings, public_url
from native_host.caller import Caller
from native_host.companion_link import CompanionLink
from native_host.errors import ActionError
from native_host.ids import CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID

__all__ = ["ACTIONS", "Action", "ActionError"]

Action = Callable[[dict[str, Any], Caller], dict[str, Any]]

START_TIMEOUT_SECS = 60.0
LOG_TAIL_LINES = 15


def _settings() -> Settings:
    return load_settings()


def companion_url(settings: Settings) -> str:
    return public_url(settings)


@contextlib.contextmanager
def _link(settings: Settings) -> Iterator[CompanionLink]:
    # No proxies from the environment: the companion is on this machine.
    with httpx.Client(trust_env=False) as client:
        yield CompanionLink(companion_url(settings), settings.home, client)


def ping(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    return {"pong": True, "version": __version__}


def status(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """``running`` only when the companion proved itself; what else answers is an ``error``."""
    settings = _settings()
    result: dict[str, Any] = {"running": False, "url": companion_url(settings),
                              "host_version": __version__}
    with _link(settings) as link:
        try:
            if link.prove() is not None:
                info = link.info()
                result.update(running=True, version=info.get("version"),
                              status=info.get("status"))
        except ActionError as exc:
            result["error"] = {"code": exc.code, "message": exc.message}
    return result


def _log_tail(settings: Settings) -> str:
    path = settings.home / "logs" / "bodhi.log"
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])


def _launch(settings: Settings) -> subprocess.Popen[bytes]:
    # A new session, so the companion outlives this host (the browser ends the host when the
    # port closes), and so from the one-file binary with a copy of the binary's files that
    # this host's exit does not remove; no inherited stdio, so nothing it prints can corrupt
    # our frames.
    return subprocess.Popen([*module_command("companion"), "serve"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env=outliving_env(os.environ), cwd=settings.home)


def _await_companion(link: CompanionLink, proc: subprocess.Popen[bytes],
                     settings: Settings) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECS
    while time.monotonic() < deadline:
        if link.prove() is not None:
            return
        if proc.poll() is not None:
            raise ActionError("start_failed", f"bodhi serve exited with {proc.returncode}:\n"
                              f"{_log_tail(settings)}")
        time.sleep(0.2)
    raise ActionError("start_failed", f"bodhi serve did not answer at {link.url} within "
                      f"{START_TIMEOUT_SECS:.0f} s")


def _ensure_running(link: CompanionLink, settings: Settings) -> dict[str, Any]:
    """Start the companion unless it already proves itself; never beside something else
    on its port (``not_companion`` comes up from ``prove``)."""
    if link.prove() is not None:
        return {"running": True, "started": False, "url": link.url,
                "version": link.info().get("version")}
    settings.home.mkdir(parents=True, exist_ok=True)
    proc = _launch(settings)
    _await_companion(link, proc, settings)
    # Reap it whenever it exits, so it never lingers as a zombie of this host.
    threading.Thread(target=proc.wait, name="reap-companion", daemon=True).start()
    return {"running": True, "started": True, "url": link.url, "pid": proc.pid,
            "version": link.info().get("version")}


def start(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    settings = _settings()
    with _link(settings) as link:
        return _ensure_running(link, settings)


def _our_caller(caller: Caller) -> str:
    if caller.extension_id not in {CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID}:
        raise ActionError("unknown_caller",
                          "pairing is only for the Bodhi extension launched by a browser")
    assert caller.extension_id is not None
    return caller.extension_id


def pair(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    extension_id = _our_caller(caller)
    settings = _settings()
    with _link(settings) as link:
        _ensure_running(link, settings)
        reply = link.post_as_owner("/bodhi/v1/owner/extension-credential",
                                   {"extension_id": extension_id, "browser": caller.browser})
    credential = reply.get("credential")
    if not isinstance(credential, str):
        raise ActionError("companion_error", "the companion sent no credential")
    return {"credential": credential, "url": link.url}


def open_web_ui(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
    _our_caller(caller)
    settings = _settings()
    with _link(settings) as link:
        _ensure_running(link, settings)
        url = link.post_as_owner("/bodhi/v1/owner/login-link", {}).get("url")
    # Only a sign-in link on the companion we proved, never a page elsewhere.
    if not isinstance(url, str) or not url.startswith(link.url + "/"):
        raise ActionError("companion_error", "the companion sent no sign-in link")
    return {"url": url}


ACTIONS: dict[str, Action] = {
    "ping": ping,
    "status": status,
    "start": start,
    "pair": pair,
    "open": open_web_ui,
}
