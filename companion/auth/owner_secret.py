"""The owner secret: proof of being the OS user who owns ``$BODHI_HOME``.

Created once, readable only by its owner (mode 0600). The CLI and the native-messaging
host read it; it never leaves the machine and is never logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

OWNER_SECRET_FILE = "owner.secret"


def ensure_owner_secret(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / OWNER_SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return path
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path


def read_owner_secret(home: Path) -> str:
    return ensure_owner_secret(home).read_text(encoding="ascii").strip()
