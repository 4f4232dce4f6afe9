"""The events WebSocket on the real companion: ``models.loaded`` as a model loads and unloads,
``download.updated`` as a pull runs from the local HF-protocol server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from tests.conftest import Companion, running_companion
from tests.hf_server import HubServer
from tests.integration.test_downloads_api import PULLS, REPO, hub, power_token

MODEL = "smollm2:135m"
__all__ = ["hub"]  # the fixture, imported for the tests here


def pair(companion: Companion) -> str:
    code = companion.cli("pair").strip().splitlines()[-1]
    resp = httpx.post(companion.url + "/bodhi/v1/apps/extension/pair",
                      json={"code": code, "extension_id": "test-ext", "browser": "chromium"})
    assert resp.status_code == 200, resp.text
    raw: str = resp.json()["credential"]
    return raw


async def events_until(ws: aiohttp.ClientWebSocketResponse, kind: str,
                       done: Any) -> list[dict[str, Any]]:
    """The `kind` events' data until `done(data)` is true (the caller bounds the wait)."""
    seen: list[dict[str, Any]] = []
    while True:
        message = await ws.receive_json()
        if message["type"] == kind:
            seen.append(message["data"])
            if done(message["data"]):
                return seen


async def test_loading_and_unloading_are_told(shared_companion: Companion) -> None:
    headers = power_token(shared_companion)
    models = shared_companion.url + "/bodhi/v1/models"
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(shared_companion.url + "/bodhi/v1/events") as ws:
        await ws.send_json({"type": "auth", "token": pair(shared_companion)})
        async with asyncio.timeout(120):
            assert (await ws.receive_json())["type"] == "hello"
            await asyncio.to_thread(httpx.post, f"{models}/{MODEL}/unload", headers=headers,
                                    timeout=60)
            loaded = asyncio.create_task(asyncio.to_thread(
                httpx.post, f"{models}/{MODEL}/load", headers=headers, timeout=120))
            up = await events_until(ws, "models.loaded", lambda d: d["state"] == "ready")
            assert (await loaded).status_code == 200
            assert {d["alias"] for d in up} == {MODEL}
            assert "starting" in [d["state"] for d in up]
            unloaded = await asyncio.to_thread(httpx.post, f"{models}/{MODEL}/unload",
                                               headers=headers, timeout=60)
            assert unloaded.json()["unloaded"] is True
            down = await events_until(ws, "models.loaded", lambda d: d["state"] == "stopped")
            states = [d["state"] for d in down]
            assert states.index("unloading") < states.index("stopped")
            assert all(set(d) == {"alias", "state", "in_flight", "queued"} for d in up + down)


async def test_a_pull_is_told_from_start_to_end(tmp_path: Path, hub: HubServer,
                                                model_path: Path) -> None:
    size = model_path.stat().st_size  # noqa: ASYNC240 (the test's model, before any await)
    hub.bytes_per_s = size // 2
    with running_companion(tmp_path, HF_ENDPOINT=hub.url) as companion:
        headers = power_token(companion)
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(companion.url + "/bodhi/v1/events") as ws:
            await ws.send_json({"type": "auth", "token": pair(companion)})
            async with asyncio.timeout(60):
                assert (await ws.receive_json())["type"] == "hello"
                began = time.monotonic()
                started = await asyncio.to_thread(
                    httpx.post, companion.url + PULLS, headers=headers,
                    json={"repo": REPO, "quant": "q4_1"})
                assert started.status_code == 201, started.text
                jobs = await events_until(ws, "download.updated",
                                          lambda d: d["status"] == "completed")
                took = time.monotonic() - began
    assert {j["id"] for j in jobs} == {started.json()["id"]}
    assert jobs[0]["status"] == "pending" and jobs[-1]["downloaded_bytes"] == size
    assert jobs[-1]["filename"] == model_path.name
    midway = [j for j in jobs if j["status"] == "running" and 0 < j["downloaded_bytes"] < size]
    assert midway and midway[-1]["total_bytes"] == size
    # At most two progress updates a second besides the status changes, not one per chunk
    # (a 64 KiB chunk: some 1500 for this file).
    assert len(jobs) <= 4 + 2 * took, (len(jobs), took)
