"""The record of app requests: what an app token did is queued, written in batches, bounded per
grant and by age, readable only by the grant's user through a browser session, and holds the
request's outline only (never a body, a prompt or a query string)."""

from __future__ import annotations

import sqlite3
import time

from companion.access.activity import AppActivity, AppCall, app_call
from companion.core.events import EventBus
from companion.storage import Database
from companion.storage.app_activity import AppActivityRepository
from tests.unit.apps_harness import OWNER_SESSION, Harness, bearer, harness

__all__ = ["harness"]

PROMPT = "the-secret-prompt-7f3a"


def call(grant_id: str, n: int, at: float | None = None) -> AppCall:
    return app_call(grant_id=grant_id, app="http://127.0.0.1:8001", user_id="owner",
                    at=time.time() if at is None else at, method="POST",
                    path="/v1/chat/completions", model=f"m{n}", status=200, duration_ms=n)


def everything_stored(harness: Harness) -> str:
    with sqlite3.connect(harness.db_path) as conn:
        rows = conn.execute("SELECT * FROM app_activity").fetchall()
    return repr(rows)


async def activity(harness: Harness, grant_id: str, query: str = "",
                   headers: dict[str, str] = OWNER_SESSION) -> tuple[int, dict[str, object]]:
    resp = await harness.client.get(f"/bodhi/v1/apps/grants/{grant_id}/activity{query}",
                                    headers=headers)
    return resp.status, await resp.json()


async def test_an_app_request_is_recorded_with_model_status_and_no_prompt(
        harness: Harness) -> None:
    tokens = await harness.granted(scopes=["chat", "models"], models=["smollm2:135m"])
    app = bearer(tokens["access_token"])
    listed = await harness.client.get("/v1/models?key=not-for-the-record", headers=app)
    refused = await harness.client.post("/v1/chat/completions", headers=app, json={
        "model": "outside-the-grant", "messages": [{"role": "user", "content": PROMPT}]})
    assert (listed.status, refused.status) == (200, 404)

    status, found = await activity(harness, tokens["grant_id"])

    assert status == 200
    assert (found["total"], found["grant_id"], found["app"]) == (
        2, tokens["grant_id"], "http://127.0.0.1:8001")
    newest, oldest = found["data"]  # type: ignore[misc]
    assert (newest["method"], newest["path"], newest["model"], newest["status"]) == (
        "POST", "/v1/chat/completions", "outside-the-grant", 404)
    assert (oldest["method"], oldest["path"], oldest["model"], oldest["status"]) == (
        "GET", "/v1/models", None, 200)
    assert newest["duration_ms"] >= 0 and newest["at"] >= oldest["at"]
    assert found["last_used_at"] is not None
    stored = everything_stored(harness)
    assert "outside-the-grant" in stored
    assert PROMPT not in stored and "not-for-the-record" not in stored
    assert tokens["access_token"] not in stored


async def test_the_grants_list_shows_last_use_before_it_is_written(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"])
    await harness.client.get("/v1/models", headers=bearer(tokens["access_token"]))

    resp = await harness.client.get("/bodhi/v1/apps/grants", headers=OWNER_SESSION)

    listed = {g["id"]: g for g in (await resp.json())["data"]}
    assert listed[tokens["grant_id"]]["last_used_at"] is not None


async def test_only_the_grants_user_reads_it_and_only_by_session(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"])
    grant_id = tokens["grant_id"]

    other_user, _ = await activity(harness, grant_id, headers=bearer("test-session-alice"))
    extension, _ = await activity(harness, grant_id, headers=harness.ext)
    app_token, _ = await activity(harness, grant_id, headers=bearer(tokens["access_token"]))
    unknown, _ = await activity(harness, "no-such-grant")
    bad_page, error = await activity(harness, grant_id, "?page=0")

    assert other_user == unknown == 404
    assert extension in (401, 403) and app_token in (401, 403)
    assert bad_page == 400 and error["error"]["param"] == "page"  # type: ignore[index]


async def test_api_token_and_session_requests_are_not_recorded(harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"])
    await harness.client.get("/v1/models", headers=OWNER_SESSION)
    await harness.client.get("/bodhi/v1/apps/grants", headers=harness.ext)

    _, found = await activity(harness, tokens["grant_id"])

    assert found["total"] == 0 and "/v1/models" not in everything_stored(harness)


async def test_pages_newest_first(harness: Harness, db: Database) -> None:
    tokens = await harness.granted(scopes=["models"])
    for _ in range(5):
        await harness.client.get("/v1/models", headers=bearer(tokens["access_token"]))

    _, first = await activity(harness, tokens["grant_id"], "?page=1&page_size=2")
    _, last = await activity(harness, tokens["grant_id"], "?page=3&page_size=2")

    ids = [e["id"] for e in first["data"]]  # type: ignore[attr-defined]
    assert first["total"] == 5 and ids == sorted(ids, reverse=True) and len(ids) == 2
    assert len(last["data"]) == 1 and last["data"][0]["id"] < ids[-1]  # type: ignore[index]


async def test_each_grant_keeps_its_newest_rows(db: Database) -> None:
    repo = AppActivityRepository(db)
    activity = AppActivity(repo, keep=lambda: 3)
    for n in range(5):
        activity.record(call("chatty", n))
    for n in range(2):
        activity.record(call("quiet", n))

    await activity.flush()

    chatty = await repo.page_for_grant("chatty", 10, 0)
    assert [row.model for row in chatty] == ["m4", "m3", "m2"]
    assert await repo.count_for_grant("quiet") == 2


async def test_the_queue_is_bounded_and_zero_records_nothing(db: Database) -> None:
    repo = AppActivityRepository(db)
    small = AppActivity(repo, max_pending=2)
    for n in range(3):
        small.record(call("g", n))
    off = AppActivity(repo, keep=lambda: 0)
    off.record(call("h", 0))

    await small.flush()
    await off.flush()

    assert (small.counts.recorded, small.counts.dropped) == (3, 1)
    assert [row.model for row in await repo.page_for_grant("g", 10, 0)] == ["m2", "m1"]
    assert await repo.count_for_grant("h") == 0


async def test_purge_drops_old_rows_and_rows_of_gone_grants(harness: Harness) -> None:
    live = (await harness.granted(scopes=["models"]))["grant_id"]
    now = time.time()
    harness.apps.activity.record(call(live, 1, at=now - 3 * 86400))
    harness.apps.activity.record(call(live, 2, at=now))
    harness.apps.activity.record(call("gone-grant", 3, at=now))

    purged = await harness.apps.purge(int(now), 2 * 86400)

    assert purged["app_activity"] == 2
    _, found = await activity(harness, live)
    assert [e["model"] for e in found["data"]] == ["m2"]  # type: ignore[attr-defined]


async def test_a_batch_tells_each_grants_user_it_was_used(db: Database) -> None:
    bus = EventBus()
    activity = AppActivity(AppActivityRepository(db), bus=bus)
    async with bus.subscribe("owner") as owner, bus.subscribe("alice") as alice:
        for n in range(3):
            activity.record(call("g1", n, at=1000.0 + n))
        await activity.flush()

        event = owner.queue.get_nowait()
        assert event is not None and event.type == "grant.used"
        assert event.data == {"id": "g1", "app": "http://127.0.0.1:8001",
                              "last_used_at": 1002, "requests": 3}
        assert owner.queue.empty() and alice.queue.empty()


async def test_a_call_outside_the_grants_scopes_is_recorded_with_its_refusal(
        harness: Harness) -> None:
    tokens = await harness.granted(scopes=["models"])
    refused = await harness.client.post("/v1/embeddings", headers=bearer(
        tokens["access_token"]), json={"model": "smollm2:135m", "input": PROMPT})
    assert refused.status == 403

    _, found = await activity(harness, tokens["grant_id"])

    assert [(e["path"], e["status"]) for e in found["data"]] == [  # type: ignore[attr-defined]
        ("/v1/embeddings", 403)]
    assert PROMPT not in everything_stored(harness)
