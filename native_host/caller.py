"""Which extension launched the host, as the browser tells it on the command line.

Chromium-family browsers pass the caller's origin (``chrome-extension://<id>/``) as the first
argument (plus ``--parent-window=N`` on Windows); Firefox passes the path of the host manifest
and then the add-on id. The host trusts these, never a field inside a message.
"""

from __future__ import annotations

from dataclasses import dataclass

_CHROME_SCHEME = "chrome-extension://"


@dataclass(frozen=True)
class Caller:
    browser: str                # "chromium" | "firefox" | "unknown"
    extension_id: str | None


def caller_from_argv(argv: list[str]) -> Caller:
    args = [a for a in argv if not a.startswith("--parent-window")]
    if args and args[0].startswith(_CHROME_SCHEME):
        return Caller("chromium", args[0].removeprefix(_CHROME_SCHEME).strip("/") or None)
    if len(args) >= 2 and args[0].endswith(".json"):
        return Caller("firefox", args[1])
    return Caller("unknown", None)
