"""Pulling model files through the API and the CLI from a local HF-protocol server."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Companion, running_companion, wait_until
from tests.hf_server import CHUNK, HubServer

REPO = "bodhi-test/SmolLM2-135M-Instruct-GGUF"
PULLS = "/bodhi/v1/models/files/pull"


@pytest.fixture
def hub(model_path: Path) -> Iterator[HubServer]:
    server = HubServer()
    server.add(REPO, model_path.name, model_path)
    server.add("bodhi-test/other", model_path.name, model_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def power_token(companion: Companion) -> dict[str, str]:
    raw = companion.cli("token", "create", "--name", "pu", "--scope",
                        "scope_token_power_user").strip().splitlines()[-1]
    return {"Authorization": f"Bearer {raw}"}


def job_until(companion: Companion, headers: dict[str, str], job_id: str,
              check: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def probe() -> bool:
        seen.update(httpx.get(f"{companion.url}{PULLS}/{job_id}", headers=headers).json())
        return check(seen)

    assert wait_until(probe, timeout, interval=0.1), seen
    return seen


def test_pull_reports_progress_and_is_idempotent(tmp_path: Path, hub: HubServer,
                                                 model_path: Path) -> None:
    size = model_path.stat().st_size
    hub.bytes_per_s = size // 3
    with running_companion(tmp_path, HF_ENDPOINT=hub.url) as companion:
        headers = power_token(companion)
        body = {"repo": REPO, "filename": model_path.name}
        first = httpx.post(companion.url + PULLS, json=body, headers=headers)
        assert first.status_code == 201, first.text
        job = first.json()
        again = httpx.post(companion.url + PULLS, json=body, headers=headers)
        assert again.status_code == 200 and again.json()["id"] == job["id"]
        running = job_until(companion, headers, job["id"],
                            lambda j: j["status"] == "running" and j["bytes_per_s"]
                            and 0 < j["downloaded_bytes"] < size)
        assert running["total_bytes"] == size and running["eta_s"] is not None
        done = job_until(companion, headers, job["id"], lambda j: j["status"] == "completed")
        assert done["downloaded_bytes"] == size and done["error"] is None
        local = httpx.post(companion.url + PULLS, json=body, headers=headers)
        assert local.status_code == 400
        assert local.json()["error"]["code"] == "file_already_exists"
        listing = httpx.get(companion.url + PULLS + "?page=1&page_size=1", headers=headers).json()
        assert listing["total"] == 1 and listing["data"][0]["id"] == job["id"]
        files = httpx.get(companion.url + "/bodhi/v1/models/files", headers=headers).json()
        (entry,) = [f for f in files["data"] if f["repo"] == REPO]
        assert entry["size"] == size and entry["architecture"] == "llama"
        assert entry["context_length"] == 8192 and entry["chat_template"] is True
        assert entry["quantization"] == "Q4_1"
        models = httpx.get(companion.url + "/v1/models", headers=headers).json()
        assert f"{REPO}:Q4_1" in [m["id"] for m in models["data"]]
        metrics = httpx.get(companion.url + "/metrics", headers=headers).text
        downloaded = [s.value for f in text_string_to_metric_families(metrics)
                      for s in f.samples if s.name == "bodhi_download_bytes_total"]
        assert downloaded == [size]


def test_bad_pulls_fail_clearly(tmp_path: Path, hub: HubServer, model_path: Path) -> None:
    with running_companion(tmp_path, HF_ENDPOINT=hub.url) as companion:
        headers = power_token(companion)
        missing = httpx.post(companion.url + PULLS, headers=headers,
                             json={"repo": "bodhi-test/nope", "filename": model_path.name})
        assert missing.status_code == 201
        failed = job_until(companion, headers, missing.json()["id"],
                           lambda j: j["status"] == "error")
        assert "'bodhi-test/nope' not found" in failed["error"]
        for repo, name in (("../../etc", "x.gguf"), (REPO, "../../../etc/passwd"),
                           (REPO, "/etc/passwd"), ("a/b/c", "x.gguf")):
            refused = httpx.post(companion.url + PULLS, headers=headers,
                                 json={"repo": repo, "filename": name})
            assert refused.status_code == 400, (repo, name, refused.text)
        user = companion.create_token("user")
        assert httpx.post(companion.url + PULLS, json={"repo": REPO, "filename": "x.gguf"},
                          headers={"Authorization": f"Bearer {user}"}).status_code == 403
        assert httpx.get(companion.url + PULLS + "/nope", headers=headers).status_code == 404


def test_cancel_and_retry_through_the_api(tmp_path: Path, hub: HubServer,
                                          model_path: Path) -> None:
    size = model_path.stat().st_size
    hub.bytes_per_s = size // 4
    with running_companion(tmp_path, HF_ENDPOINT=hub.url) as companion:
        headers = power_token(companion)
        job = httpx.post(companion.url + PULLS, headers=headers,
                         json={"repo": REPO, "filename": model_path.name}).json()
        job_until(companion, headers, job["id"], lambda j: j["downloaded_bytes"] > size // 8)
        cancelled = httpx.post(f"{companion.url}{PULLS}/{job['id']}/cancel", headers=headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert 0 < cancelled.json()["downloaded_bytes"] < size
        hub.bytes_per_s = None
        retried = httpx.post(f"{companion.url}{PULLS}/{job['id']}/retry", headers=headers)
        assert retried.status_code == 200, retried.text
        job_until(companion, headers, job["id"], lambda j: j["status"] == "completed")
        assert hub.range_starts[f"{REPO}/{model_path.name}"][0] > 0


def test_a_killed_companion_resumes_the_download(tmp_path: Path, hub: HubServer,
                                                 model_path: Path) -> None:
    size = model_path.stat().st_size
    key = f"{REPO}/{model_path.name}"
    hub.bytes_per_s = size // 5
    companion = Companion(tmp_path, HF_ENDPOINT=hub.url).start()
    try:
        headers = power_token(companion)
        job = httpx.post(companion.url + PULLS, headers=headers,
                         json={"repo": REPO, "filename": model_path.name}).json()
        job_until(companion, headers, job["id"], lambda j: j["downloaded_bytes"] > size // 3)
        companion.stop(signal.SIGKILL)
        (partial,) = (companion.hf_home / "hub").rglob("*.incomplete")
        kept = partial.stat().st_size
        served_before = hub.bytes_served[key]
        assert 0 < kept < size
        hub.bytes_per_s = None
        companion.start()
        done = job_until(companion, headers, job["id"], lambda j: j["status"] == "completed")
        assert done["downloaded_bytes"] == size
    finally:
        companion.stop()
    assert hub.range_starts[key] == [kept]
    # Only what was in flight at the kill is sent twice (a chunk or two may still have been
    # counted after it); the kept bytes are not.
    assert hub.bytes_served[key] - size <= served_before - kept + 2 * CHUNK


def test_cli_pull_shows_progress(tmp_path: Path, hub: HubServer, model_path: Path) -> None:
    companion = Companion(tmp_path, HF_ENDPOINT=hub.url)
    done = subprocess.run([sys.executable, "-m", "companion", "pull", "bodhi-test/other",
                           model_path.name], env=companion.env, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    path = Path(done.stdout.decode().strip().splitlines()[-1])
    assert path.is_symlink() and path.stat().st_size == model_path.stat().st_size
    assert b"100%" in done.stderr
    again = subprocess.run([sys.executable, "-m", "companion", "pull", "bodhi-test/other",
                            model_path.name], env=companion.env, capture_output=True,
                           timeout=60, check=False)
    assert again.returncode == 1 and b"already in the model cache" in again.stderr
