"""Reading the standard Hugging Face hub cache (``$HF_HOME/hub``) without the network."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_QUANT = re.compile(r"(?i)[-_.]((?:I?Q\d+(?:_[A-Z0-9]+)*)|BF16|F16|F32)$")
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})$")


@dataclass(frozen=True)
class CachedFile:
    repo: str
    filename: str
    snapshot: str
    path: Path

    @property
    def quant(self) -> str:
        return quant_of(self.filename)


def quant_of(filename: str) -> str:
    """The quantisation a GGUF file name ends with (``x-Q4_K_M.gguf``: Q4_K_M), else its stem."""
    stem = _SHARD.sub("", Path(filename).name.removesuffix(".gguf"))
    match = _QUANT.search(stem)
    return match.group(1).upper() if match else stem


def is_shard(filename: str) -> bool:
    """One part of a model split over several files (``-00001-of-00003.gguf``)."""
    return _SHARD.search(Path(filename).name.removesuffix(".gguf")) is not None


def _repo_id(folder_name: str) -> str:
    return folder_name.removeprefix("models--").replace("--", "/", 1)


def _preferred_snapshot(repo_dir: Path) -> str | None:
    ref = repo_dir / "refs" / "main"
    try:
        return ref.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def scan_gguf_files(hub_dir: Path) -> list[CachedFile]:
    """Every GGUF (first shard only) under the cache, newest ``main`` snapshot first."""
    found: list[CachedFile] = []
    if not hub_dir.is_dir():
        return found
    for repo_dir in sorted(hub_dir.glob("models--*")):
        preferred = _preferred_snapshot(repo_dir)
        snapshots = sorted((repo_dir / "snapshots").glob("*"),
                           key=lambda p: (p.name != preferred, p.name))
        for snapshot in snapshots:
            for path in sorted(snapshot.rglob("*.gguf")):
                shard = _SHARD.search(path.stem)
                if shard and shard.group(1) != "00001":
                    continue
                if not path.exists():  # a dangling symlink: blob missing
                    continue
                found.append(CachedFile(_repo_id(repo_dir.name),
                                        path.relative_to(snapshot).as_posix(),
                                        snapshot.name, path))
    return found


# One folder in a stamp: its path, the names in it, and its modification time.
FolderStamp = tuple[str, tuple[str, ...], int]


def _dir_stamps(folder: str, out: list[FolderStamp]) -> None:
    """``folder`` and every folder below it: names and times, not the files' own."""
    try:
        mtime = os.stat(folder).st_mtime_ns
        with os.scandir(folder) as entries:
            found = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in entries)
    except OSError:
        return
    out.append((folder, tuple(name for name, _ in found), mtime))
    for name, is_dir in found:
        if is_dir:
            _dir_stamps(os.path.join(folder, name), out)


def cache_stamp(hub_dir: Path) -> tuple[FolderStamp, ...]:
    """Changes whenever ``scan_gguf_files`` could find something else: a repository, a
    snapshot or a file added or removed (names), or ``refs/main`` moved to another snapshot.
    Folders only, so a big cache costs a ``stat`` and a listing per folder, never a look at
    each file: cheap enough to ask on every model list."""
    out: list[FolderStamp] = []
    try:
        with os.scandir(hub_dir) as entries:
            repos = sorted(e.path for e in entries if e.name.startswith("models--"))
    except OSError:
        return ()
    out.append((str(hub_dir), tuple(repos), 0))
    for repo in repos:
        main = os.path.join(repo, "refs", "main")
        try:
            out.append((main, (), os.stat(main).st_mtime_ns))
        except OSError:
            out.append((main, (), 0))
        _dir_stamps(os.path.join(repo, "snapshots"), out)
    return tuple(out)


def cached_file_path(hub_dir: Path, repo: str, filename: str, snapshot: str) -> Path | None:
    """Path of ``filename`` in ``repo`` at ``snapshot`` (a commit or a ref like main)."""
    repo_dir = hub_dir / ("models--" + repo.replace("/", "--"))
    commit = snapshot
    ref = repo_dir / "refs" / snapshot
    if ref.is_file():
        commit = ref.read_text(encoding="utf-8").strip()
    snapshots = Path(os.path.normpath(repo_dir / "snapshots"))
    snapshot_dir = Path(os.path.normpath(snapshots / commit))
    # Names come from users: neither may climb out of the cache folder they belong in.
    path = Path(os.path.normpath(snapshot_dir / filename))
    if snapshot_dir.parent != snapshots or not path.is_relative_to(snapshot_dir):
        return None
    return path if path.is_file() else None
