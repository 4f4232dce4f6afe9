"""The owner secret: proof of being the OS user who owns ``$BODHI_HOME``.

Created once, readable only by its owner (mode 0600). The CLI and the native-messaging
host read it; it never leaves the machine and is never logged.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from companion.core.home import private_file

OWNER_SECRET_FILE = "owner.secret"


def ensure_owner_secret(home: Path) -> Path:
    path = home / OWNER_SECRET_FILE
    private_file(path, lambda: secrets.token_urlsafe(32).encode("ascii"))
    return path


def read_owner_secret(home: Path) -> str:
    return ensure_owner_secret(home).read_text(encoding="ascii").strip()
