"""Files written whole or not at all, and the leftovers of writers that died mid-write.

``write_atomic`` writes a temporary file in the target's own folder, flushes it to disk,
renames it over the target and flushes the folder: a ``kill -9``, a power cut or a full disk
in the middle leaves the old file or the new one, never half of one. The temporary name
starts with a dot and ends in ``.tmp`` (readers that look for ``*.yaml`` and the like skip
it) and carries the writer's PID, so ``sweep_temp_files`` at start removes only the
leftovers of writers that are gone, never a file a live process (the CLI, say) is writing.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

_TEMP_NAME = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp$")


def temp_path(path: Path) -> Path:
    """A fresh temporary name beside ``path``, marked with this process's PID."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` in one step; a new file gets ``mode`` (less the umask).

    The rename is atomic on POSIX file systems; the two fsyncs make it durable too, so
    after a crash of the whole machine the file is the old or the new one as well.
    """
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new link in ``folder`` durable (a no-op where folders can't be
    opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def sweep_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files in ``folder`` whose writer is no longer running."""
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:  # no such folder yet, or not readable: nothing of ours to clean
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or _running(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True
