"""``ModelFiles``: the GGUF files in the Hugging Face cache, their metadata, and deletion.

GGUF headers are read once per file version (path, size, mtime) and kept in memory. Deleting
removes the file from every snapshot of its repository, and its blob once no snapshot still
links to it; the caller says whether the file is in use by a running model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from companion.core.errors import ConflictError, NotFoundError
from companion.models.gguf import GGUFError, GGUFInfo, read_info
from companion.models.hf_cache import CachedFile, scan_gguf_files
from companion.models.names import check_filename, check_repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFile:
    file: CachedFile
    size: int
    info: GGUFInfo | None
    error: str | None = None


class ModelFiles:
    def __init__(self, hub_dir: Path) -> None:
        self._hub_dir = hub_dir
        self._infos: dict[tuple[str, int, int], GGUFInfo | str] = {}

    def list(self, only: Collection[Path] | None = None) -> list[ModelFile]:
        """Every GGUF file in the cache, or those of them whose real paths are in ``only``."""
        return [self._describe(cached) for cached in scan_gguf_files(self._hub_dir)
                if only is None or cached.path.resolve() in only]

    def _describe(self, cached: CachedFile) -> ModelFile:
        size, info = self.info_for(cached.path)
        if isinstance(info, str):
            return ModelFile(cached, size, None, info)
        return ModelFile(cached, size, info)

    def info_for(self, path: Path) -> tuple[int, GGUFInfo | str]:
        """Size and GGUF header of any model file (or why the header could not be read)."""
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self._infos:
            try:
                self._infos[key] = read_info(path)
            except (OSError, GGUFError) as exc:
                log.warning("cannot read GGUF header of %s: %s", path, exc)
                self._infos[key] = str(exc)
        return stat.st_size, self._infos[key]

    def delete(self, repo: str, filename: str, in_use: Callable[[Path], bool]) -> int:
        """Remove ``filename`` of ``repo`` from the cache; returns how many snapshots had it."""
        check_repo(repo)
        check_filename(filename)
        found = [f for f in scan_gguf_files(self._hub_dir)
                 if f.repo == repo and f.filename == filename]
        if not found:
            raise NotFoundError(f"'{repo}/{filename}' is not in the model cache.",
                                code="db_error-item_not_found")
        for cached in found:
            if in_use(cached.path.resolve()):
                raise ConflictError(f"'{repo}/{filename}' is loaded by a running model; unload "
                                    "it first.", code="model_file_in_use")
        for cached in found:
            _remove(cached.path)
        return len(found)


def _remove(link: Path) -> None:
    blob = link.resolve()
    link.unlink()
    blobs = blob.parent
    repo_dir = blobs.parent
    still_linked = any(p.is_symlink() and p.resolve() == blob
                       for p in (repo_dir / "snapshots").rglob("*"))
    if blobs.name == "blobs" and not still_linked:
        blob.unlink(missing_ok=True)
    _prune_empty(link.parent, stop=repo_dir / "snapshots")


def _prune_empty(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_relative_to(stop):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent
