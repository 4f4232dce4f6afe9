"""``$BODHI_HOME`` on disk: only its owner may read it.

The home holds grants, users' emails, access-request reasons, logs, the databases and the
keys, so the folder and the folders that hold such files are 0700 and the files 0600. New
files are created that way (``private_file``, ``private_opener``, ``Database.open``); at
start ``secure_home`` takes group and other access off whatever an earlier version or the
user left readable.

A restrictive process umask would be simpler but is not used: the server and ``bodhi pull``
also download models into the Hugging Face cache, which lies outside the home and is shared
with other tools, and huggingface_hub derives the modes of the files it stores from the
umask.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

from companion.core.atomic import fsync_dir, sweep_temp_files, temp_path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_SHARED_BITS = 0o077
# Folders of the home whose every file is ours and private.
PRIVATE_FOLDERS = ("logs", "aliases")
# Files directly in the home that are ours: databases (with their WAL, shared-memory and
# journal files), keys and secrets, and settings.yaml (it may hold BODHI_ENCRYPTION_KEY).
_HOME_FILES = ("*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.sqlite-journal", "*.key",
               "*.salt", "*.secret", "settings.yaml")

log = logging.getLogger(__name__)


def private_opener(path: str, flags: int) -> int:
    """``open(path, mode, opener=private_opener)``: a file it creates is 0600."""
    return os.open(path, flags, PRIVATE_FILE_MODE)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700 when it does not exist yet."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return path


def private_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """Read ``path``, creating it first (mode 0600) with ``make()`` if it does not exist.

    Created whole under a temporary name and linked into place, so a process racing to
    create the same file (the CLI and the server, say) reads either none or all of it, and
    the first one's content wins.
    """
    private_dir(path.parent)
    with contextlib.suppress(FileNotFoundError):
        return _read_private(path)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())  # a key must not come back empty after a power cut
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()
    fsync_dir(path.parent)
    return _read_private(path)


def _read_private(path: Path) -> bytes:
    _take_shared_bits(path)
    return path.read_bytes()


def secure_home(home: Path) -> list[Path]:
    """Make the home, ``logs/``, ``aliases/`` and the files we keep there owner-only.

    Only group and other permissions are removed; symbolic links are not followed and
    nothing outside these folders is touched. Returns the paths that were changed.
    """
    private_dir(home)
    changed = [home] if _take_shared_bits(home) else []
    for name in PRIVATE_FOLDERS:
        folder = home / name
        if folder.is_dir() and _take_shared_bits(folder):
            changed.append(folder)
    files = [f for pattern in _HOME_FILES for f in home.glob(pattern)]
    files += [f for name in PRIVATE_FOLDERS for f in (home / name).glob("*")]
    changed += [f for f in files if _take_shared_bits(f)]
    return changed


def sweep_home(home: Path) -> list[Path]:
    """Remove what writers killed mid-write left in the home and ``aliases/`` (see
    ``core.atomic``); returns the removed paths."""
    return [*sweep_temp_files(home), *sweep_temp_files(home / "aliases")]


def _take_shared_bits(path: Path) -> bool:
    """Remove group and other permissions from ``path`` (not through a symbolic link)."""
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not mode & _SHARED_BITS:
            return False
        os.chmod(path, stat.S_IMODE(mode) & ~_SHARED_BITS)
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("could not make %s private: %s", path, exc.strerror or exc)
        return False
    return True
