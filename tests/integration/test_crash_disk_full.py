"""A pull that runs out of room: a clear error on the job, the partial file kept, the
companion still serving, and a retry that fetches only the missing bytes.

The full disk is a real one: a small tmpfs mounted as the companion's HF cache, filled by
the test (``fallocate``) before the pull (refused up front: the size is known) and in the
middle of it (the write fails with ENOSPC). Mounting needs root (CAP_SYS_ADMIN); where the
test cannot mount, that test says so and is skipped, and the file-size-limit test, which
runs anywhere, still drives the same path for real: the companion runs under
``RLIMIT_FSIZE`` (set on the running process, as ``prlimit`` does) and its write of the
blob fails with EFBIG.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import Companion
from tests.hf_server import HubServer
from tests.integration.test_downloads_api import PULLS, job_until, power_token

REPO = "bodhi-test/tiny-GGUF"
FILE = "tiny-Q8_0.gguf"
MIB = 1024 * 1024
SIZE = 4 * MIB


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("payload") / FILE
    path.write_bytes(b"GGUF" + os.urandom(SIZE - 4))
    return path


@pytest.fixture
def hub(payload: Path) -> Iterator[HubServer]:
    server = HubServer()
    server.add(REPO, FILE, payload)
    server.bytes_per_s = MIB
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def tmpfs(folder: Path, size: int) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, timeout=30, check=False) if mount else None
    if done is None or done.returncode != 0:
        why = done.stderr.decode().strip() if done else "no mount command"
        pytest.skip(f"cannot mount a tmpfs here ({why}); "
                    "test_a_file_size_limit_mid_pull covers the same path")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30,
                       check=False)


def fill(folder: Path, leave: int) -> Path:
    """Take the free space of ``folder``'s file system, leaving ``leave`` bytes."""
    filler = folder / "filler"
    with open(filler, "ab") as handle:
        for _ in range(50):  # the companion may be writing at the same time
            room = shutil.disk_usage(folder).free - leave
            if room <= 0:
                break
            with contextlib.suppress(OSError):
                os.posix_fallocate(handle.fileno(), os.fstat(handle.fileno()).st_size, room)
    assert shutil.disk_usage(folder).free <= max(leave, 0) + 4096
    return filler


def partial_of(companion: Companion) -> Path:
    (partial,) = (companion.hf_home / "hub").rglob("*.incomplete")
    return partial


def still_serving(companion: Companion, headers: dict[str, str]) -> None:
    assert httpx.get(companion.url + "/ping", timeout=10).status_code == 200
    listing = httpx.get(companion.url + "/v1/models", headers=headers, timeout=10)
    assert listing.status_code == 200, listing.text


def pulled(companion: Companion, payload: Path) -> None:
    (path,) = (companion.hf_home / "hub").rglob(f"snapshots/*/{FILE}")
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(
        payload.read_bytes()).digest()


def test_a_full_disk_before_and_during_a_pull(tmp_path: Path, hub: HubServer,
                                              payload: Path) -> None:
    key = f"{REPO}/{FILE}"
    companion = Companion(tmp_path, HF_ENDPOINT=hub.url)
    with tmpfs(companion.hf_home, SIZE + MIB):
        (companion.hf_home / "hub").mkdir()
        filler = fill(companion.hf_home, leave=MIB)
        companion.start()
        try:
            headers = power_token(companion)
            job = httpx.post(companion.url + PULLS, headers=headers,
                             json={"repo": REPO, "filename": FILE}).json()
            # Known up front not to fit: refused before a byte is fetched.
            refused = job_until(companion, headers, job["id"], lambda j: j["status"] == "error")
            assert refused["error_code"] == "disk_full", refused
            assert f"needs {SIZE:,} more bytes" in refused["error"]
            assert str(companion.hf_home / "hub") in refused["error"]
            assert hub.bytes_served[key] == 0

            filler.unlink()
            retried = httpx.post(f"{companion.url}{PULLS}/{job['id']}/retry", headers=headers)
            assert retried.status_code == 200, retried.text
            job_until(companion, headers, job["id"], lambda j: j["downloaded_bytes"] >= MIB)
            filler = fill(companion.hf_home, leave=0)  # something else took the disk
            full = job_until(companion, headers, job["id"], lambda j: j["status"] == "error")
            kept = partial_of(companion).stat().st_size
            assert full["error_code"] == "disk_full", full
            assert "Not enough disk space in " + str(companion.hf_home / "hub") in full["error"]
            assert f"the {kept:,} bytes already downloaded are kept" in full["error"]
            assert MIB <= kept < SIZE
            still_serving(companion, headers)

            filler.unlink()
            hub.bytes_per_s = None
            assert httpx.post(f"{companion.url}{PULLS}/{job['id']}/retry",
                              headers=headers).status_code == 200
            done = job_until(companion, headers, job["id"], lambda j: j["status"] == "completed")
            assert done["downloaded_bytes"] == SIZE and done["error_code"] is None
            pulled(companion, payload)
        finally:
            companion.stop()
    assert hub.range_starts[key] == [kept]


def test_a_file_size_limit_mid_pull(tmp_path: Path, hub: HubServer, payload: Path) -> None:
    key = f"{REPO}/{FILE}"
    companion = Companion(tmp_path, HF_ENDPOINT=hub.url).start()
    assert companion.proc is not None
    process = psutil.Process(companion.proc.pid)
    hard = process.rlimit(resource.RLIMIT_FSIZE)[1]
    process.rlimit(resource.RLIMIT_FSIZE, (2 * MIB, hard))  # ulimit -f, set from outside
    try:
        headers = power_token(companion)
        job = httpx.post(companion.url + PULLS, headers=headers,
                         json={"repo": REPO, "filename": FILE}).json()
        stopped = job_until(companion, headers, job["id"], lambda j: j["status"] == "error")
        assert stopped["error_code"] == "file_too_large", stopped
        assert f"at {2 * MIB:,} bytes" in stopped["error"]
        assert partial_of(companion).stat().st_size == 2 * MIB
        still_serving(companion, headers)

        process.rlimit(resource.RLIMIT_FSIZE, (hard, hard))
        hub.bytes_per_s = None
        assert httpx.post(f"{companion.url}{PULLS}/{job['id']}/retry",
                          headers=headers).status_code == 200
        done = job_until(companion, headers, job["id"], lambda j: j["status"] == "completed")
        assert done["downloaded_bytes"] == SIZE
        pulled(companion, payload)
    finally:
        companion.stop()
    assert hub.range_starts[key] == [2 * MIB]
