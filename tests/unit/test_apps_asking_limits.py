"""How often an app may ask for access: answers from a remembered grant store nothing, a
refused origin cools down (growing), and every origin has its own rate limit. Each test acts
as the attacking page would through the extension: it posts request-access again and again."""

from __future__ import annotations

import sqlite3

import pytest

from companion.access.rate_limit import MAX_KEYS, RateLimiter
from companion.access.requests import (
    ASK_BURST,
    COOLDOWN_FIRST_SECS,
    COOLDOWN_MAX_SECS,
    cooldown_until,
)
from tests.unit.apps_harness import OWNER_SESSION, Harness, harness

__all__ = ["harness"]

ORIGIN = "http://127.0.0.1:8001"
OTHER = "http://127.0.0.1:8002"
ASK = "/bodhi/v1/apps/request-access"


def rows(harness: Harness, table: str) -> int:
    with sqlite3.connect(harness.db_path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def age_decisions(harness: Harness, secs: int) -> None:
    """Move every decision ``secs`` into the past (instead of sleeping)."""
    with sqlite3.connect(harness.db_path) as conn:
        conn.execute("UPDATE app_access_requests SET updated_at = updated_at - ?", (secs,))


async def ask(harness: Harness, origin: str = ORIGIN) -> tuple[int, dict[str, object], str]:
    resp = await harness.client.post(ASK, headers=harness.ext, json={
        "origin": origin, "requested": {"scopes": ["chat"]}})
    return resp.status, await resp.json(), resp.headers.get("Retry-After", "")


async def deny(harness: Harness, request_id: object) -> None:
    resp = await harness.client.post(f"/bodhi/v1/apps/access-requests/{request_id}/deny",
                                     headers=harness.ext)
    assert resp.status == 200


async def test_asks_answered_by_a_remembered_grant_store_nothing(harness: Harness) -> None:
    opened = await harness.open_request()
    await harness.approve(opened["id"], remember=True)
    await harness.tokens_for(opened["id"])
    before = {t: rows(harness, t) for t in ("app_access_requests", "app_refresh_tokens",
                                             "app_grants")}

    answers = [await ask(harness) for _ in range(ASK_BURST - 1)]   # the first ask opened it

    assert {(status, body["status"]) for status, body, _ in answers} == {(200, "approved")}
    assert {t: rows(harness, t) for t in before} == before


async def test_a_denied_origin_cools_down_and_the_wait_doubles(harness: Harness) -> None:
    status, first, _ = await ask(harness)
    assert status == 201
    await deny(harness, first["id"])

    status, refused, retry_after = await ask(harness)

    assert status == 429
    assert refused["error"]["code"] == "access_request_cooldown"
    assert 0 < int(retry_after) <= COOLDOWN_FIRST_SECS
    assert rows(harness, "app_access_requests") == 1          # no new draft
    # Another origin is not held back by this one's refusal.
    assert (await ask(harness, OTHER))[0] == 201

    age_decisions(harness, COOLDOWN_FIRST_SECS)
    status, second, _ = await ask(harness)
    assert status == 201
    await deny(harness, second["id"])
    status, _, retry_after = await ask(harness)
    assert status == 429
    assert COOLDOWN_FIRST_SECS < int(retry_after) <= 2 * COOLDOWN_FIRST_SECS


async def test_an_expired_draft_counts_as_a_refusal_and_approval_resets(
        harness: Harness) -> None:
    assert (await ask(harness))[0] == 201
    with sqlite3.connect(harness.db_path) as conn:
        conn.execute("UPDATE app_access_requests SET expires_at = 0")
    await harness.apps.requests.expire_drafts()
    assert (await ask(harness))[0] == 429

    age_decisions(harness, COOLDOWN_FIRST_SECS)
    _, second, _ = await ask(harness)
    await harness.approve(str(second["id"]), remember=False)
    _, third, _ = await ask(harness)                          # allow once: asks again
    assert third["status"] == "draft"


def test_cooldown_grows_to_its_cap() -> None:
    assert cooldown_until([]) is None
    assert cooldown_until([("approved", 100), ("denied", 90)]) is None
    assert cooldown_until([("denied", 100)]) == 100 + COOLDOWN_FIRST_SECS
    assert cooldown_until([("denied", 100), ("expired", 50), ("approved", 40),
                           ("denied", 30)]) == 100 + 2 * COOLDOWN_FIRST_SECS
    assert cooldown_until([("denied", 100)] * 40) == 100 + COOLDOWN_MAX_SECS


async def test_a_burst_from_one_origin_is_limited_and_another_is_not(
        harness: Harness) -> None:
    for origin in (ORIGIN, OTHER):
        opened = await harness.open_request(origin)
        await harness.approve(opened["id"], remember=True)

    answers = [await ask(harness) for _ in range(ASK_BURST + 5)]

    statuses = [status for status, _, _ in answers]
    assert statuses[:ASK_BURST - 1] == [200] * (ASK_BURST - 1)   # one ask opened the draft
    assert statuses[-1] == 429
    _, body, retry_after = answers[-1]
    assert body["error"]["code"] == "access_request_rate_limited"
    assert body["error"]["type"] == "rate_limit_error"
    assert int(retry_after) >= 1
    assert (await ask(harness, OTHER))[0] == 200


def test_rate_limiter_refills_and_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    assert limiter.take("a") is None and limiter.take("a") is None
    assert limiter.take("a") == 1
    now[0] += 1.0
    assert limiter.take("a") is None
    for key in range(3 * MAX_KEYS):
        limiter.take(key)
    assert len(limiter._buckets) <= MAX_KEYS


@pytest.mark.parametrize("remember", [False, True])
async def test_tokens_by_grant_only_for_a_remembered_grant_of_the_caller(
        harness: Harness, remember: bool) -> None:
    opened = await harness.open_request()
    grant_id = (await harness.approve(opened["id"], remember=remember))["grant_id"]
    url = "/bodhi/v1/apps/token"
    body = {"grant_type": "grant", "grant_id": grant_id}

    mine = await harness.client.post(url, headers=harness.ext, json=body)
    as_session = await harness.client.post(url, headers=OWNER_SESSION, json=body)

    assert mine.status == (200 if remember else 404)
    assert as_session.status == 401                   # only the extension exchanges


async def test_without_a_user_action_only_a_remembered_grant_answers(harness: Harness) -> None:
    quiet = {"origin": ORIGIN, "requested": {"scopes": ["chat"]}, "interactive": False}

    refused = await harness.client.post(ASK, headers=harness.ext, json=quiet)

    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "access_request_needs_user_action"
    assert rows(harness, "app_access_requests") == 0
    opened = await harness.open_request()
    await harness.approve(opened["id"], remember=True)
    answered = await harness.client.post(ASK, headers=harness.ext, json=quiet)
    assert (await answered.json())["status"] == "approved"
