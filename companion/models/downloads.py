"""``DownloadService``: model file pulls as background jobs with persisted progress.

One job per (repo, filename) at a time. Jobs run with bounded concurrency in worker threads
(``hf_download.fetch``); progress is written to the database every couple of seconds, so
a restarted companion picks unfinished jobs up again and the partial blob is resumed. Cancel
stops the transfer at the next chunk and keeps the partial blob for a later retry.

``on_update`` hears each job at every change of status and, while it runs, its progress at
most every ``PUBLISH_EVERY_SECS``: a fast download must not flood the listeners (the event
bus and the browser tabs behind it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from companion.core.errors import BadRequestError, ConflictError, NotFoundError, UpstreamError
from companion.models.hf_cache import cached_file_path, is_shard, quant_of
from companion.models.hf_download import (
    DownloadFailed,
    FileRequest,
    TransferStopped,
    fetch,
    repo_files,
)
from companion.models.names import check_filename, check_repo
from companion.storage.downloads import DownloadRecord, DownloadRepository

log = logging.getLogger(__name__)

PERSIST_EVERY_SECS = 2.0
PUBLISH_EVERY_SECS = 0.5
DEFAULT_QUANT = "Q4_K_M"  # what Ollama takes for a hub repository named without a tag
_RATE_WINDOW_SECS = 5.0


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class DownloadJob:
    id: str
    repo: str
    filename: str
    status: JobStatus
    total_bytes: int | None
    downloaded_bytes: int
    bytes_per_s: float | None
    eta_s: float | None
    error: str | None
    created_at: int
    updated_at: int
    error_code: str | None = None


class _Transfer:
    """Live progress of one running job, written by its worker thread."""

    def __init__(self, on_bytes: Callable[[int], None]) -> None:
        self.total: int | None = None
        self.done = 0
        self.stop = threading.Event()
        self.cancelled = False
        self._on_bytes = on_bytes
        self._samples: deque[tuple[float, int]] = deque()

    def started(self, total: int | None, done: int) -> None:
        self.total, self.done = total, done
        self._samples.clear()
        self._samples.append((time.monotonic(), done))

    def advanced(self, n: int) -> None:
        if self.stop.is_set():
            raise TransferStopped
        self.done += n
        self._on_bytes(n)
        now = time.monotonic()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > _RATE_WINDOW_SECS:
            self._samples.popleft()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None


def pick_quant(repo: str, files: list[str], quant: str | None) -> str:
    """The single-file GGUF of ``repo`` in ``quant``; without one, the default quantisation
    or else the repository's only GGUF."""
    ggufs = {quant_of(f).upper(): f for f in sorted(files, reverse=True)
             if f.lower().endswith(".gguf") and not is_shard(f)
             and not f.rsplit("/", 1)[-1].startswith("mmproj")}
    wanted = (quant or DEFAULT_QUANT).upper()
    if wanted in ggufs:
        return ggufs[wanted]
    if quant is None and len(ggufs) == 1:
        return next(iter(ggufs.values()))
    raise NotFoundError(f"'{repo}' has no single-file GGUF in {wanted}; it has: "
                        f"{', '.join(sorted(ggufs)) or 'none'}.", code="model_file_not_found",
                        param="model")


def _now() -> int:
    return int(time.time())


def _job(record: DownloadRecord, transfer: _Transfer | None) -> DownloadJob:
    total, done, rate, eta = record.total_bytes, record.downloaded_bytes, None, None
    if transfer is not None and record.status == JobStatus.RUNNING:
        total, done, rate = transfer.total, transfer.done, transfer.rate()
        if rate and total is not None:
            eta = round(max(total - done, 0) / rate, 1) if rate > 0 else None
    return DownloadJob(record.id, record.repo, record.filename, JobStatus(record.status), total,
                       done, round(rate, 1) if rate is not None else None, eta, record.error,
                       record.created_at, record.updated_at, record.error_code)


class DownloadService:
    def __init__(self, repository: DownloadRepository, hub_dir: Path, *,
                 concurrency: int = 2, endpoint: str | None = None, token: str | None = None,
                 on_bytes: Callable[[int], None] | None = None,
                 on_complete: Callable[[], None] | None = None,
                 on_update: Callable[[DownloadJob], None] | None = None) -> None:
        self._repo = repository
        self._hub_dir = hub_dir
        self._endpoint = endpoint
        self._token = token
        self._on_bytes = on_bytes or (lambda n: None)
        self._on_complete = on_complete or (lambda: None)
        self._on_update = on_update or (lambda job: None)
        self._slots = asyncio.Semaphore(concurrency)
        self._executor = ThreadPoolExecutor(max_workers=concurrency,
                                            thread_name_prefix="download")
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._transfers: dict[str, _Transfer] = {}

    async def start(self) -> None:
        """Take up the jobs a previous run left unfinished."""
        for record in await self._repo.list_active():
            log.info("resuming download %s of %s/%s", record.id, record.repo, record.filename)
            self._schedule(record.id)

    async def pull(self, repo: str, filename: str) -> tuple[DownloadJob, bool]:
        """Start a job, or return the unfinished one for the same file (created=False)."""
        check_repo(repo)
        check_filename(filename)
        existing = await self._repo.find_active(repo, filename)
        if existing is not None:
            return _job(existing, self._transfers.get(existing.id)), False
        if cached_file_path(self._hub_dir, repo, filename, "main") is not None:
            raise BadRequestError(f"'{repo}/{filename}' is already in the model cache.",
                                  code="file_already_exists", param="filename")
        now = _now()
        record = DownloadRecord(str(uuid.uuid4()), repo, filename, "main", JobStatus.PENDING,
                                None, 0, None, now, now)
        if not await self._repo.insert(record):  # another caller won the race
            return await self.pull(repo, filename)
        self._schedule(record.id)
        job = _job(record, None)
        self._on_update(job)
        return job, True

    async def hub_file(self, repo: str, quant: str | None) -> str:
        """The file of ``repo`` on the hub in quantisation ``quant`` (see ``pick_quant``)."""
        loop = asyncio.get_running_loop()
        try:
            files = await loop.run_in_executor(None, repo_files, repo, self._endpoint,
                                               self._token)
        except DownloadFailed as exc:
            raise UpstreamError(str(exc), code="download_failed") from exc
        return pick_quant(repo, files, quant)

    async def get(self, job_id: str) -> DownloadJob:
        return _job(await self._record(job_id), self._transfers.get(job_id))

    async def list(self, page: int, page_size: int) -> tuple[list[DownloadJob], int]:
        records, total = await self._repo.page((page - 1) * page_size, page_size)
        return [_job(r, self._transfers.get(r.id)) for r in records], total

    async def cancel(self, job_id: str) -> DownloadJob:
        record = await self._record(job_id)
        if record.status not in (JobStatus.PENDING, JobStatus.RUNNING):
            raise ConflictError(f"Download {job_id} is {record.status}; only pending or "
                                "running downloads can be cancelled.", code="download_not_active")
        transfer = self._transfers.get(job_id)
        if transfer is not None:
            transfer.cancelled = True
            transfer.stop.set()
        else:
            task = self._tasks.pop(job_id, None)
            if task is not None:
                task.cancel()
            await self._repo.update(job_id, _now(), status=JobStatus.CANCELLED)
            await self._publish(job_id)
        return await self._settled(job_id)

    async def retry(self, job_id: str) -> DownloadJob:
        record = await self._record(job_id)
        if record.status not in (JobStatus.ERROR, JobStatus.CANCELLED):
            raise ConflictError(f"Download {job_id} is {record.status}; only failed or "
                                "cancelled downloads can be retried.", code="download_active")
        if await self._repo.find_active(record.repo, record.filename) is not None:
            raise ConflictError(f"'{record.repo}/{record.filename}' is already downloading.",
                                code="download_active")
        await self._repo.update(job_id, _now(), status=JobStatus.PENDING, error=None,
                                error_code=None)
        self._schedule(job_id)
        return await self._publish(job_id)

    async def wait(self, job_id: str) -> DownloadJob:
        """Until the job has finished one way or another."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)
        return await self.get(job_id)

    async def follow(self, job_id: str, every: float = 0.5) -> AsyncIterator[DownloadJob]:
        """The job now and then every ``every`` seconds, until (and including) its end."""
        while True:
            job = await self.get(job_id)
            yield job
            if job.status not in (JobStatus.PENDING, JobStatus.RUNNING):
                return
            task = self._tasks.get(job_id)
            if task is None:
                await asyncio.sleep(every)
            else:
                await asyncio.wait({task}, timeout=every)

    async def stop(self) -> None:
        """Stop every transfer, leaving the jobs unfinished so the next start resumes them."""
        for transfer in self._transfers.values():
            transfer.stop.set()  # the worker notices at its next chunk and saves progress
        for job_id, task in self._tasks.items():
            if job_id not in self._transfers:
                task.cancel()  # still waiting for a slot
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=15.0)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _record(self, job_id: str) -> DownloadRecord:
        record = await self._repo.get(job_id)
        if record is None:
            raise NotFoundError(f"No download with id '{job_id}'.",
                                code="db_error-item_not_found")
        return record

    async def _settled(self, job_id: str) -> DownloadJob:
        """After a cancel: give the worker a moment to notice, then report."""
        task = self._tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), 10.0)
        return await self.get(job_id)

    def _schedule(self, job_id: str) -> None:
        task = asyncio.create_task(self._run(job_id), name=f"download-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._forget(job_id, task))

    def _forget(self, job_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(job_id) is task:
            del self._tasks[job_id]

    async def _run(self, job_id: str) -> None:
        async with self._slots:
            record = await self._record(job_id)
            transfer = _Transfer(self._on_bytes)
            self._transfers[job_id] = transfer
            await self._repo.update(job_id, _now(), status=JobStatus.RUNNING)
            await self._publish(job_id)
            tickers = [asyncio.create_task(self._persist_progress(job_id, transfer)),
                       asyncio.create_task(self._publish_progress(job_id, transfer))]
            try:
                await self._transfer(record, transfer)
            finally:
                for ticker in tickers:
                    ticker.cancel()
                self._transfers.pop(job_id, None)
            await self._publish(job_id)  # its end: completed, error, cancelled (or paused)

    async def _transfer(self, record: DownloadRecord, transfer: _Transfer) -> None:
        request = FileRequest(record.repo, record.filename, record.revision, self._endpoint,
                              self._token)
        loop = asyncio.get_running_loop()
        status, error, code = JobStatus.COMPLETED, None, None
        try:
            await loop.run_in_executor(self._executor, fetch, self._hub_dir, request, transfer)
        except TransferStopped:
            if not transfer.cancelled:  # shutting down: leave it for the next start
                await self._save_progress(record.id, transfer)
                return
            status = JobStatus.CANCELLED
        except DownloadFailed as exc:  # the partial file stays: a retry fetches the rest
            status, error, code = JobStatus.ERROR, str(exc), exc.code
            log.warning("download %s failed: %s", record.id, exc)
        await self._repo.update(record.id, _now(), status=status, error=error, error_code=code,
                                total_bytes=transfer.total, downloaded_bytes=transfer.done)
        if status is JobStatus.COMPLETED:
            self._on_complete()

    async def _persist_progress(self, job_id: str, transfer: _Transfer) -> None:
        while True:
            await asyncio.sleep(PERSIST_EVERY_SECS)
            await self._save_progress(job_id, transfer)

    async def _publish_progress(self, job_id: str, transfer: _Transfer) -> None:
        sent = -1
        while True:
            await asyncio.sleep(PUBLISH_EVERY_SECS)
            if transfer.done != sent:
                sent = transfer.done
                await self._publish(job_id)

    async def _publish(self, job_id: str) -> DownloadJob:
        job = await self.get(job_id)
        self._on_update(job)
        return job

    async def _save_progress(self, job_id: str, transfer: _Transfer) -> None:
        await self._repo.update(job_id, _now(), total_bytes=transfer.total,
                                downloaded_bytes=transfer.done)


__all__ = ["DownloadJob", "DownloadService", "JobStatus"]
