"""``bodhi-native-host``: answer the extension's messages through a dispatch table.

Each request is ``{"id": ..., "action": "...", ...}``; each reply echoes the id with either
``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": {"code", "message"}}``.
Unknown actions and malformed frames get an error reply; the host never crashes on input.
The actions live in ``native_host.actions``; the caller's identity comes from the browser's
command line (``native_host.caller``).
"""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

from native_host.actions import ACTIONS
from native_host.caller import Caller, caller_from_argv
from native_host.errors import ActionError
from native_host.framing import FrameError, read_frame, write_frame

__all__ = ["ACTIONS", "handle", "main", "serve"]

UNKNOWN_CALLER = Caller("unknown", None)
MAX_ID_CHARS = 200


def _request_id(message: dict[str, Any]) -> Any:
    """The id to echo: a short string or number, else ``None`` (a reply stays bounded)."""
    value = message.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value if len(str(value)) <= MAX_ID_CHARS else None


def _error(request_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": {"code": code, "message": message}}


def handle(message: dict[str, Any], caller: Caller = UNKNOWN_CALLER) -> dict[str, Any]:
    request_id = _request_id(message)
    action = ACTIONS.get(str(message.get("action")))
    if action is None:
        return _error(request_id, "unknown_action",
                      f"unknown action {str(message.get('action'))[:100]!r}; "
                      f"known: {sorted(ACTIONS)}")
    try:
        return {"id": request_id, "ok": True, "result": action(message, caller)}
    except ActionError as exc:
        return _error(request_id, exc.code, exc.message)
    except Exception as exc:  # one bad request must not end the host
        return _error(request_id, "internal_error", f"{type(exc).__name__}: {exc}")


def serve(inp: BinaryIO, out: BinaryIO, caller: Caller = UNKNOWN_CALLER) -> None:
    while True:
        try:
            message = read_frame(inp)
        except FrameError as exc:
            write_frame(out, _error(None, "bad_frame", str(exc)))
            if not exc.recoverable:
                return
            continue
        if message is None:
            return
        try:
            write_frame(out, handle(message, caller))
        except FrameError as exc:
            write_frame(out, _error(_request_id(message), "reply_too_large", str(exc)))


def main(argv: list[str] | None = None) -> int:
    caller = caller_from_argv(sys.argv[1:] if argv is None else argv)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr           # a stray print must never corrupt a frame
    serve(sys.stdin.buffer, out, caller)
    return 0


if __name__ == "__main__":
    sys.exit(main())
