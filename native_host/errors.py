"""The one refusal the host's actions raise, with a stable code the extension can show."""

from __future__ import annotations


class ActionError(Exception):
    """A refusal with a stable code, sent back as ``{"ok": false, "error": {...}}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
