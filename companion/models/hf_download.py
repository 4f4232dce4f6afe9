"""Fetch one file from a Hugging Face hub into the standard cache, resumably.

The layout is the one ``huggingface_hub`` itself writes (``blobs/<etag>``,
``snapshots/<commit>/<filename>`` as a relative symlink, ``refs/<revision>``), so other HF
tools share the files. Unlike ``hf_hub_download``, a partial blob is kept as
``blobs/<etag>.incomplete`` when a transfer is interrupted (cancel, crash, restart) and the
next attempt asks the hub only for the missing bytes with a ``Range`` request. A file whose
size is known and cannot fit in the free space is refused before a byte is fetched, and a
write that finds the disk full (or hits a file size limit) ends in ``DiskFull``
(``FileTooLarge``), the partial file kept for the retry.

Blocking: run it in a worker thread. Progress and cancellation go through a ``Progress``.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from companion.core.atomic import write_atomic
from companion.models.names import is_safe_hub_token

if TYPE_CHECKING:
    # httpx and huggingface_hub load with the first download, not at start.
    import httpx

CHUNK_BYTES = 256 * 1024
# A write that found the disk (or the user's quota) full, or hit a file size limit.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class Progress(Protocol):
    """Told about a transfer from the worker thread; ``advanced`` may raise to stop it."""

    def started(self, total: int | None, done: int) -> None: ...

    def advanced(self, n: int) -> None: ...


class DownloadFailed(Exception):
    """A download that cannot succeed as asked; the message is meant for the user."""

    code = "download_failed"


class DiskFull(DownloadFailed):
    """The file system of the cache cannot hold the rest of the file (checked before the
    transfer when the size is known, or hit during it); the partial file is kept."""

    code = "disk_full"


class FileTooLarge(DownloadFailed):
    """A file size limit (``ulimit -f``, or the file system's own) stopped the file growing;
    the partial file is kept."""

    code = "file_too_large"


class TransferStopped(Exception):
    """Raised by a ``Progress`` to end the transfer early; the partial file is kept."""


@dataclass(frozen=True)
class FileRequest:
    repo: str
    filename: str
    revision: str = "main"
    endpoint: str | None = None   # None: HF_ENDPOINT or the public hub
    token: str | None = None      # None: HF_TOKEN or the token saved by huggingface-cli


def _describe(exc: Exception, request: FileRequest) -> DownloadFailed:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo, name = request.repo, request.filename
    if isinstance(exc, GatedRepoError):
        text = f"Repository '{repo}' is gated: accept its terms on the hub and set HF_TOKEN."
    elif isinstance(exc, RepositoryNotFoundError):
        text = (f"Repository '{repo}' not found (404). Check the name; for a private or "
                "gated repository set HF_TOKEN.")
    elif isinstance(exc, RevisionNotFoundError):
        text = f"Revision '{request.revision}' not found in repository '{repo}' (404)."
    elif isinstance(exc, RemoteEntryNotFoundError):
        text = f"File '{name}' not found in repository '{repo}' (404)."
    elif isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        text = f"The hub refused the download of '{repo}/{name}' (HTTP {status})."
    else:
        text = f"Downloading '{repo}/{name}' failed: {type(exc).__name__}: {exc}"
    return DownloadFailed(text)


def repo_files(repo: str, endpoint: str | None, token: str | None) -> list[str]:
    """The names of the files in a hub repository (blocking: run it in a worker thread)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=endpoint, token=token).model_info(repo)
    except Exception as exc:  # whatever the hub or the network did
        raise _describe(exc, FileRequest(repo, "", endpoint=endpoint, token=token)) from exc
    return [sibling.rfilename for sibling in info.siblings or []]


def fetch(hub_dir: Path, request: FileRequest, progress: Progress) -> Path:
    """Download (or finish downloading) the file; returns its snapshot path in the cache."""
    from filelock import FileLock
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import repo_folder_name
    from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

    url = hf_hub_url(request.repo, request.filename, revision=request.revision,
                     endpoint=request.endpoint)
    headers = build_hf_headers(token=request.token)
    try:
        meta = get_hf_file_metadata(url, token=request.token, endpoint=request.endpoint,
                                    retry_on_errors=True)
        if not (is_safe_hub_token(meta.etag) and is_safe_hub_token(meta.commit_hash)):
            raise DownloadFailed(f"The hub gave no usable ETag or commit for '{request.repo}/"
                                 f"{request.filename}'; is HF_ENDPOINT a Hugging Face hub?")
        repo_dir = hub_dir / repo_folder_name(repo_id=request.repo, repo_type="model")
        blob = repo_dir / "blobs" / str(meta.etag)
        lock = hub_dir / ".locks" / repo_dir.name / f"{meta.etag}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(lock):
            if blob.exists():
                size = blob.stat().st_size
                progress.started(size, size)
            else:
                _download_blob(meta.location, blob, headers, meta.size, progress)
            return _link(repo_dir, blob, str(meta.commit_hash), request)
    except (DownloadFailed, TransferStopped):
        raise
    except Exception as exc:  # whatever the hub, the network or the disk did: the job's error
        raise _describe(exc, request) from exc


def _download_blob(url: str, blob: Path, headers: dict[str, str], size: int | None,
                   progress: Progress) -> None:
    blob.parent.mkdir(parents=True, exist_ok=True)
    partial = blob.with_name(blob.name + ".incomplete")
    try:
        _fill(url, partial, headers, size, progress)
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        raise _no_space(exc, partial, size) from exc
    os.replace(partial, blob)


def _fill(url: str, partial: Path, headers: dict[str, str], size: int | None,
          progress: Progress) -> None:
    """Append to ``partial`` until it holds the whole file."""
    with open(partial, "ab") as file:
        done = file.tell()
        if size is not None and done > size:  # not ours, or the file changed: start over
            file.truncate(0)
            done = 0
        progress.started(size, done)
        if size is not None:
            check_room(partial.parent, size - done, done)
        if size is None or done < size:
            _transfer(url, file, done, headers, progress)
        if size is not None and file.tell() != size:
            raise DownloadFailed(f"The hub sent {file.tell()} bytes of {size}; retry to "
                                 "fetch the rest.")


def _transfer(url: str, file: BinaryIO, start: int, headers: dict[str, str],
              progress: Progress) -> None:
    """Append the bytes from ``start`` on; small chunks keep progress and cancel prompt."""
    import httpx

    timeout = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
    if start:
        headers = {**headers, "Range": f"bytes={start}-"}
    with httpx.Client(follow_redirects=True, timeout=timeout, trust_env=False) as client, \
            client.stream("GET", url, headers=headers) as response:
        if response.status_code >= 400:
            raise DownloadFailed(f"The hub answered HTTP {response.status_code} for {url}.")
        if start and response.status_code == 200:  # the server ignored Range
            file.seek(0)
            file.truncate()
            progress.started(_content_length(response), 0)
        for chunk in response.iter_bytes(CHUNK_BYTES):
            file.write(chunk)
            progress.advanced(len(chunk))


def _content_length(response: httpx.Response) -> int | None:
    length = response.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


def _link(repo_dir: Path, blob: Path, commit: str, request: FileRequest) -> Path:
    pointer = repo_dir / "snapshots" / commit / request.filename
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if not pointer.exists():
        pointer.unlink(missing_ok=True)  # a dangling link from a deleted blob
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    refs = repo_dir / "refs"
    refs.mkdir(exist_ok=True)
    if request.revision != commit:  # the cache is shared: the usual modes, not private ones
        write_atomic(refs / request.revision, commit.encode("utf-8"), 0o666)
    return pointer


def check_room(folder: Path, needed: int, done: int = 0) -> None:
    """Refuse, before a byte is fetched, a file whose missing ``needed`` bytes cannot fit in
    the free space of ``folder``'s file system."""
    if needed <= 0:
        return
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DiskFull(_no_room_text(folder, needed, free, done))


def _no_space(exc: OSError, partial: Path, size: int | None) -> DownloadFailed:
    """What a write that found no room (``ENOSPC``, ``EDQUOT``) or hit a size limit
    (``EFBIG``) means for the user; the partial file stays for a retry."""
    done = partial.stat().st_size if partial.exists() else 0
    if exc.errno == errno.EFBIG:
        return FileTooLarge(f"A file size limit (ulimit -f?) stopped {partial} at {done:,} "
                            "bytes. The bytes already downloaded are kept: raise the limit, "
                            "then retry.")
    needed = size - done if size is not None else None
    return DiskFull(_no_room_text(partial.parent, needed, shutil.disk_usage(partial.parent).free,
                                  done))


def _no_room_text(folder: Path, needed: int | None, free: int, done: int) -> str:
    need = f"{needed:,} more bytes ({_mb(needed)})" if needed is not None else "more space"
    return (f"Not enough disk space in {folder}: the download needs {need}, {free:,} bytes "
            f"({_mb(free)}) are free. Free some space (or point HF_HOME at a larger disk), "
            f"then retry; the {done:,} bytes already downloaded are kept.")


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"
