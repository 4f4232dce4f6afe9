"""DownloadService against the local HF-protocol server: jobs, cancel, retry, resume."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from companion.core.errors import BadRequestError, ConflictError
from companion.models.downloads import DownloadJob, DownloadService, JobStatus
from companion.models.hf_cache import cached_file_path, scan_gguf_files
from companion.storage import Database
from companion.storage.downloads import DownloadRepository
from tests.hf_server import HubServer

REPO = "test-org/tiny-GGUF"
FILE = "tiny-Q8_0.gguf"
SIZE = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / FILE
    path.write_bytes(b"GGUF" + os.urandom(SIZE - 4))
    return path


@pytest.fixture
def hub_server(payload: Path) -> Iterator[HubServer]:
    server = HubServer()
    server.add(REPO, FILE, payload)
    server.add("test-org/gated", FILE, payload)
    server.gated["test-org/gated"] = "hf_secret_test"
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_service(db: Database, hub: Path, server: HubServer, **kw: object) -> DownloadService:
    return DownloadService(DownloadRepository(db), hub, endpoint=server.url, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def service(db: Database, hub: Path, hub_server: HubServer
                  ) -> AsyncIterator[DownloadService]:
    svc = make_service(db, hub, hub_server)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


async def until(svc: DownloadService, job_id: str, check: Callable[[DownloadJob], bool],
                limit: float = 30.0) -> DownloadJob:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = await svc.get(job_id)
        if check(job):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"download {job_id} never got there: {await svc.get(job_id)}")


def cached_bytes(hub: Path) -> bytes | None:
    path = cached_file_path(hub, REPO, FILE, "main")
    return path.read_bytes() if path is not None and path.is_symlink() else None


async def test_pull_fetches_the_file_into_the_hf_cache(service: DownloadService, hub: Path,
                                                       payload: Path) -> None:
    job, created = await service.pull(REPO, FILE)
    assert created and job.status is JobStatus.PENDING
    done = await service.wait(job.id)
    assert done.status is JobStatus.COMPLETED, done.error
    assert done.total_bytes == done.downloaded_bytes == SIZE
    assert cached_bytes(hub) == await asyncio.to_thread(payload.read_bytes)
    assert [f.repo for f in scan_gguf_files(hub)] == [REPO]
    with pytest.raises(BadRequestError) as err:
        await service.pull(REPO, FILE)
    assert err.value.code == "file_already_exists"


async def test_a_second_pull_joins_the_running_job(service: DownloadService,
                                                   hub_server: HubServer) -> None:
    hub_server.bytes_per_s = SIZE  # about a second
    first, created = await service.pull(REPO, FILE)
    second, again = await service.pull(REPO, FILE)
    assert created and not again and second.id == first.id
    assert (await service.wait(first.id)).status is JobStatus.COMPLETED
    jobs, total = await service.list(1, 10)
    assert total == 1 and jobs[0].id == first.id


@pytest.mark.parametrize(("repo", "filename", "expected"), [
    ("test-org/missing", FILE, "Repository 'test-org/missing' not found"),
    (REPO, "nothing.gguf", "File 'nothing.gguf' not found in repository"),
    ("test-org/gated", FILE, "gated"),
])
async def test_unknown_repo_or_file_ends_the_job_with_a_clear_error(
        service: DownloadService, repo: str, filename: str, expected: str) -> None:
    job, _ = await service.pull(repo, filename)
    done = await service.wait(job.id)
    assert done.status is JobStatus.ERROR
    assert done.error is not None and expected in done.error


async def test_hf_token_opens_a_gated_repo(db: Database, hub: Path,
                                           hub_server: HubServer) -> None:
    svc = make_service(db, hub, hub_server, token="hf_secret_test")
    try:
        job, _ = await svc.pull("test-org/gated", FILE)
        done = await svc.wait(job.id)
        assert done.status is JobStatus.COMPLETED, done.error
        assert "hf_secret_test" not in str(done)
    finally:
        await svc.stop()


@pytest.mark.parametrize(("repo", "filename"), [
    ("../etc", FILE), ("test-org/..", FILE), ("a/b/c", FILE), ("test-org", FILE),
    ("models--x/y", FILE), (REPO, "../../../../etc/passwd"), (REPO, "/etc/passwd"),
    (REPO, "sub/../../x.gguf"), (REPO, "a\\..\\b.gguf"), (REPO, ""), (REPO, "a//b.gguf"),
])
async def test_traversal_names_are_refused(service: DownloadService, repo: str,
                                           filename: str) -> None:
    with pytest.raises(BadRequestError):
        await service.pull(repo, filename)
    assert (await service.list(1, 10))[1] == 0


async def test_cancel_midway_then_retry_resumes(service: DownloadService, hub: Path,
                                                hub_server: HubServer) -> None:
    hub_server.bytes_per_s = SIZE // 3
    job, _ = await service.pull(REPO, FILE)
    running = await until(service, job.id, lambda j: j.downloaded_bytes >= SIZE // 4)
    assert running.bytes_per_s and running.eta_s is not None and running.total_bytes == SIZE
    cancelled = await service.cancel(job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert 0 < cancelled.downloaded_bytes < SIZE
    assert list(hub.rglob("*.incomplete"))  # noqa: ASYNC240 (a test's tmp folder)
    with pytest.raises(ConflictError):
        await service.cancel(job.id)
    hub_server.bytes_per_s = None
    retried = await service.retry(job.id)
    assert retried.status in (JobStatus.PENDING, JobStatus.RUNNING)
    done = await service.wait(job.id)
    assert done.status is JobStatus.COMPLETED and done.downloaded_bytes == SIZE
    key = f"{REPO}/{FILE}"
    assert hub_server.range_starts[key] and hub_server.range_starts[key][0] > 0
    # Cancelled bytes may have been in flight, but the file was not sent twice.
    assert hub_server.bytes_served[key] < SIZE * 1.5
    with pytest.raises(ConflictError):
        await service.retry(job.id)


async def test_an_unfinished_job_resumes_after_a_restart(db: Database, hub: Path,
                                                         hub_server: HubServer) -> None:
    hub_server.bytes_per_s = SIZE // 3
    first = make_service(db, hub, hub_server)
    job, _ = await first.pull(REPO, FILE)
    await until(first, job.id, lambda j: j.downloaded_bytes >= SIZE // 4)
    await first.stop()
    stopped = await first.get(job.id)
    assert stopped.status is JobStatus.RUNNING and stopped.downloaded_bytes > 0
    hub_server.bytes_per_s = None
    second = make_service(db, hub, hub_server)
    await second.start()
    try:
        done = await until(second, job.id, lambda j: j.status in (JobStatus.COMPLETED,
                                                                   JobStatus.ERROR))
    finally:
        await second.stop()
    assert done.status is JobStatus.COMPLETED, done.error
    assert hub_server.range_starts[f"{REPO}/{FILE}"][0] >= stopped.downloaded_bytes


async def test_updates_tell_every_status_and_throttle_progress(db: Database, hub: Path,
                                                               hub_server: HubServer) -> None:
    """``on_update`` (the ``download.updated`` event) hears pending, running and the end,
    and in between at most a few progress updates a second, however fast the chunks come."""
    heard: list[tuple[float, DownloadJob]] = []
    svc = make_service(db, hub, hub_server,
                       on_update=lambda job: heard.append((time.monotonic(), job)))
    hub_server.bytes_per_s = SIZE // 2
    try:
        job, _ = await svc.pull(REPO, FILE)
        done = await svc.wait(job.id)
    finally:
        await svc.stop()
    assert done.status is JobStatus.COMPLETED
    statuses = [j.status for _, j in heard]
    assert statuses[0] is JobStatus.PENDING and statuses[-1] is JobStatus.COMPLETED
    assert JobStatus.RUNNING in statuses and heard[-1][1].downloaded_bytes == SIZE
    running = [(t, j) for t, j in heard if j.status is JobStatus.RUNNING]
    progress = [j.downloaded_bytes for _, j in running]
    assert any(0 < n < SIZE for n in progress), progress  # progress was told midway
    assert progress == sorted(progress)
    span = running[-1][0] - running[0][0]
    # 64 KiB chunks over ~2 s would be ~48 updates unthrottled.
    assert len(running) <= 2 + span / 0.5 + 1, (len(running), span)


async def test_cancel_and_retry_are_told(hub_server: HubServer, db: Database,
                                         hub: Path) -> None:
    heard: list[DownloadJob] = []
    svc = make_service(db, hub, hub_server, on_update=heard.append)
    hub_server.bytes_per_s = SIZE // 4
    try:
        job, _ = await svc.pull(REPO, FILE)
        await until(svc, job.id, lambda j: j.downloaded_bytes > 0)
        await svc.cancel(job.id)
        assert heard[-1].status is JobStatus.CANCELLED
        hub_server.bytes_per_s = None
        await svc.retry(job.id)
        assert JobStatus.PENDING in [j.status for j in heard[-2:]]
        await svc.wait(job.id)
    finally:
        await svc.stop()
    assert heard[-1].status is JobStatus.COMPLETED
