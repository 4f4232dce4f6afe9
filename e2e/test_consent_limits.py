"""Pages that abuse requestAccess, in real Chromium against the real companion: re-asking
right after a deny, several origins asking at once, clicking Allow the moment the window
appears, asking with no user action, hammering requestAccess with a remembered grant, and
parallel calls when the app token expires (tokens here live 3 seconds)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from companion.access.requests import ASK_BURST, COOLDOWN_FIRST_SECS
from e2e.conftest import (
    REQUEST_ACCESS,
    Browser,
    access_outcome,
    ask_access,
    consent_windows,
)
from tests.conftest import db_path, wait_until

TOKEN_SECS = 3

ASK_MANY = """async (n) => {
    const seen = {};
    let retryAfter = null;
    for (let i = 0; i < n; i++) {
        try {
            await window.bodhi.requestAccess({scopes: ['models']});
            seen.granted = (seen.granted ?? 0) + 1;
        } catch (e) {
            seen[e.code] = (seen[e.code] ?? 0) + 1;
            retryAfter = e.retry_after ?? retryAfter;
        }
    }
    return {seen, retryAfter};
}"""

PARALLEL_CALLS = """async (n) => {
    const calls = [];
    for (let i = 0; i < n; i++) {
        calls.push(window.bodhi.models.list().then(() => 'ok', (e) => e.code));
        calls.push(window.bodhi.getToken().then(() => 'ok', (e) => e.code));
    }
    return Promise.all(calls);
}"""


@pytest.fixture(scope="module")
def companion_env() -> dict[str, str]:
    return {"BODHI_APP_TOKEN_SECS": str(TOKEN_SECS)}


def origin_of(page: Page) -> str:
    origin: str = page.evaluate("location.origin")
    return origin


def table(browser: Browser, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path(browser.companion.home)) as conn:
        return list(conn.execute(sql, params))


def rows(browser: Browser) -> dict[str, int]:
    return {name: table(browser, f"SELECT COUNT(*) FROM {name}")[0][0]
            for name in ("app_access_requests", "app_refresh_tokens", "app_grants")}


def granted(browser: Browser, page: Page, remember: bool = False,
            scopes: tuple[str, ...] = ("models",)) -> None:
    consent = ask_access(browser, page, {"scopes": list(scopes)})
    choice = "consent-allow-always" if remember else "consent-allow-once"
    consent.get_by_test_id(choice).click()
    assert "result" in access_outcome(page)


def test_deny_then_immediate_reask_is_cooled_down(paired: Browser, fresh_page: Page) -> None:
    consent = ask_access(paired, fresh_page, {"scopes": ["chat"]})
    consent.get_by_test_id("consent-deny").click()
    assert access_outcome(fresh_page) == {"error": ["BodhiError", "access_denied"]}

    again = fresh_page.evaluate("""() => Promise.race([
        window.bodhi.requestAccess({scopes: ['chat']}).then(
            () => 'granted', (e) => ({code: e.code, retry_after: e.retry_after})),
        new Promise((resolve) => setTimeout(() => resolve('a window opened'), 5000))])""")

    assert again["code"] == "cooldown"
    assert 0 < again["retry_after"] <= COOLDOWN_FIRST_SECS
    time.sleep(1)
    assert consent_windows(paired) == []


def test_two_origins_asking_at_once_get_one_window_at_a_time(
        paired: Browser, new_page: Callable[..., Page]) -> None:
    pages = [new_page() for _ in range(3)]
    with paired.context.expect_page() as opened:
        for page in pages:
            page.evaluate(REQUEST_ACCESS, {"scopes": ["chat"]})
    first = opened.value
    first.wait_for_selector("body[data-ready=true]")
    time.sleep(1.5)                       # time enough for any other window to open
    assert consent_windows(paired) == [first]
    shown = first.get_by_test_id("consent-origin").inner_text()
    waiting = [p for p in pages if origin_of(p) != shown]
    assert len(waiting) == 2
    gone, second_page = waiting[1], waiting[0]
    gone_origin = origin_of(gone)
    gone.close()                          # a queued request whose page went away is dropped

    with paired.context.expect_page() as opened:
        first.get_by_test_id("consent-deny").click()
    second = opened.value
    second.wait_for_selector("body[data-ready=true]")
    assert second.get_by_test_id("consent-origin").inner_text() == origin_of(second_page)
    assert consent_windows(paired) == [second]
    second.get_by_test_id("consent-deny").click()

    assert access_outcome(second_page) == {"error": ["BodhiError", "access_denied"]}
    time.sleep(1.5)
    assert consent_windows(paired) == []
    assert table(paired, "SELECT status FROM app_access_requests WHERE app = ?",
                 gone_origin) == [("denied",)]


def test_the_allow_buttons_are_disabled_when_the_window_opens(
        paired: Browser, fresh_page: Page) -> None:
    with paired.context.expect_page() as opened:
        fresh_page.evaluate(REQUEST_ACCESS, {"scopes": ["chat"]})
    consent = opened.value
    consent.wait_for_load_state("domcontentloaded")
    assert consent.get_by_test_id("consent-allow-once").is_disabled()
    assert consent.get_by_test_id("consent-allow-always").is_disabled()

    expect(consent.get_by_test_id("consent-allow-once")).to_be_enabled()
    enabled_after_ms = consent.evaluate("performance.now()")

    assert enabled_after_ms >= 1000
    assert fresh_page.evaluate("window.access") is None       # nothing was decided early
    consent.evaluate("window.dispatchEvent(new Event('blur'))")  # leaving the window re-arms
    assert consent.get_by_test_id("consent-allow-once").is_disabled()
    consent.get_by_test_id("consent-deny").click()
    assert access_outcome(fresh_page) == {"error": ["BodhiError", "access_denied"]}


def test_without_a_user_action_only_a_remembered_grant_answers(
        paired: Browser, new_page: Callable[..., Page]) -> None:
    page = new_page("/app.html#ask-on-load")
    assert access_outcome(page) == {"error": ["BodhiError", "user_gesture_required"]}
    assert consent_windows(paired) == []

    with paired.context.expect_page() as opened:
        page.get_by_test_id("ask").click()         # a real click is a user action
    opened.value.get_by_test_id("consent-allow-always").click()
    assert access_outcome(page)["result"]["granted"] is True
    page.reload()                                  # asks on load again: the grant answers

    assert access_outcome(page)["result"]["granted"] is True


def test_parallel_calls_at_token_expiry_all_succeed_and_the_grant_stays(
        paired: Browser, new_page: Callable[..., Page]) -> None:
    pages = [new_page(), new_page()]
    for page in pages:
        granted(paired, page)

    for _ in range(3):                    # three expiries in a row
        expires_at = max(page.evaluate("window.bodhi.getToken()")["expires_at"]
                         for page in pages)
        time.sleep(max(0.0, expires_at - time.time()) + 0.3)
        handles = [page.evaluate_handle(PARALLEL_CALLS, 4) for page in pages]
        results = [handle.json_value() for handle in handles]
        assert results == [["ok"] * 8, ["ok"] * 8]

    origins = [origin_of(page) for page in pages]
    for origin in origins:
        assert table(paired, "SELECT status FROM app_grants WHERE app = ?", origin) \
            == [("active",)]
    revoked = table(paired, "SELECT COUNT(*) FROM app_refresh_tokens t JOIN app_grants g "
                    "ON g.id = t.grant_id WHERE g.app IN (?, ?) AND t.status = 'revoked'",
                    *origins)
    assert revoked == [(0,)]


def test_request_access_with_a_remembered_grant_adds_no_rows(
        paired: Browser, fresh_page: Page) -> None:
    granted(paired, fresh_page, remember=True)
    before = rows(paired)

    answers = fresh_page.evaluate(ASK_MANY, 300)

    assert rows(paired) == before
    assert answers["seen"]["granted"] >= ASK_BURST - 1
    assert set(answers["seen"]) <= {"granted", "rate_limited"}


def test_a_burst_from_one_origin_is_limited_and_another_is_not(
        paired: Browser, new_page: Callable[..., Page]) -> None:
    burst, other = new_page(), new_page()
    granted(paired, burst, remember=True)
    granted(paired, other, remember=True)

    answers = burst.evaluate(ASK_MANY, ASK_BURST + 10)

    assert answers["seen"]["rate_limited"] >= 5
    assert answers["retryAfter"] >= 1
    assert other.evaluate(ASK_MANY, 3)["seen"] == {"granted": 3}
    assert wait_until(lambda: burst.evaluate(ASK_MANY, 1)["seen"] == {"granted": 1},
                      timeout=10, interval=0.5)
