"""``bodhi-native-host``: answer the extension's messages through a dispatch table.

Each request is ``{"id": ..., "action": "...", ...}``; each reply echoes the id with either
``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": {"code", "message"}}``.
Unknown actions and malformed frames get an error reply; the host never crashes on input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, BinaryIO

from companion import __version__
from native_host.framing import FrameError, read_frame, write_frame

Action = Callable[[dict[str, Any]], dict[str, Any]]


def _ping(message: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True, "version": __version__}


ACTIONS: dict[str, Action] = {"ping": _ping}


def _error(request_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": {"code": code, "message": message}}


def handle(message: dict[str, Any]) -> dict[str, Any]:
    request_id = message.get("id")
    action = ACTIONS.get(str(message.get("action")))
    if action is None:
        return _error(request_id, "unknown_action",
                      f"unknown action {message.get('action')!r}; known: {sorted(ACTIONS)}")
    try:
        return {"id": request_id, "ok": True, "result": action(message)}
    except Exception as exc:  # one bad request must not end the host
        return _error(request_id, "internal_error", f"{type(exc).__name__}: {exc}")


def serve(inp: BinaryIO, out: BinaryIO) -> None:
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
            write_frame(out, handle(message))
        except FrameError as exc:
            write_frame(out, _error(message.get("id"), "reply_too_large", str(exc)))


def main() -> int:
    serve(sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
