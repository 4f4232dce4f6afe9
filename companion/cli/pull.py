"""``bodhi pull REPO FILE``: download a model file with a progress bar.

It runs the same download job the server would (recorded in the database, resumable), in
this process. When the server is already downloading that file, it follows that job instead.
"""

from __future__ import annotations

import asyncio
import time

from huggingface_hub.utils import tqdm  # type: ignore[attr-defined]

from companion.cli.database import with_database
from companion.core.errors import BodhiError
from companion.core.settings import Settings
from companion.models.downloads import DownloadJob, DownloadService, JobStatus
from companion.models.hf_cache import cached_file_path
from companion.storage import Database
from companion.storage.downloads import DownloadRepository

_POLL_SECS = 0.25
_STALLED_SECS = 120.0
_ACTIVE = (JobStatus.PENDING, JobStatus.RUNNING)


async def _follow(service: DownloadService, job: DownloadJob) -> DownloadJob:
    last_change, last_done = time.monotonic(), -1
    with tqdm(total=job.total_bytes, unit="B", unit_scale=True, unit_divisor=1024,  # type: ignore[no-untyped-call]
              desc=job.filename[-40:]) as bar:
        while job.status in _ACTIVE:
            await asyncio.sleep(_POLL_SECS)
            job = await service.get(job.id)
            bar.total = job.total_bytes
            bar.update(job.downloaded_bytes - bar.n)
            if job.downloaded_bytes != last_done:
                last_change, last_done = time.monotonic(), job.downloaded_bytes
            elif time.monotonic() - last_change > _STALLED_SECS:
                raise BodhiError(f"Download {job.id} made no progress for "
                                 f"{_STALLED_SECS:g}s; `bodhi serve` resumes it.")
    return job


async def pull(settings: Settings, repo: str, filename: str) -> str:
    hub = settings.hf_home / "hub"
    async def follow(db: Database) -> DownloadJob:
        service = DownloadService(DownloadRepository(db), hub, concurrency=1)
        try:
            job, created = await service.pull(repo, filename)
            if not created:
                print(f"Already downloading as job {job.id}; following it.", flush=True)
            return await _follow(service, job)
        finally:
            await service.stop()

    job = await with_database(settings, follow)
    if job.status is not JobStatus.COMPLETED:
        raise BodhiError(job.error or f"Download {job.id} ended as {job.status.value}.")
    path = cached_file_path(hub, repo, filename, "main")
    return str(path)
