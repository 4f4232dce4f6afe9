"""window.bodhi's `grantchange` with {state: 'expired'}, in Chromium: a grant for a set time
ends at that time without any word from the companion, and the extension tells the pages of
that origin (its own timer on the grant's `expires_at`), and no other origin's page.

The shortest grant the companion makes lasts 60 s (`expires_in` on approve); the consent
window's "allow once" asks for an hour. So the page's request is approved for 60 s by the
owner through the companion's approve API (a decision taken outside the consent window, which
the extension follows as it does any), and the test waits the minute out, idle.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page

from e2e.conftest import Browser, PageServer, access_outcome, ask_access, owner_session
from e2e.streams import LISTEN

pytestmark = pytest.mark.slow

LIFE_SECS = 60                    # the companion's shortest grant
SCOPES = ["chat", "models"]
SLACK_SECS = 30                   # the timer fires on time; a busy machine may be slow to tell

CALL = """(name) => ({
    chat: () => window.bodhi.chat({messages: [{role: 'user', content: 'hi'}], max_tokens: 2}),
    token: () => window.bodhi.getToken(),
})[name]().then(() => 'ok', (e) => e.code)"""


@pytest.fixture(scope="module")
def pages(paired: Browser, origins: tuple[PageServer, PageServer]) -> Iterator[list[Page]]:
    opened = [paired.open(server.origin) for server in origins]
    yield opened
    for page in opened:
        page.close()


def approved_for_a_minute(browser: Browser, page: Page) -> int:
    """The page asks; the owner approves its request for LIFE_SECS through the companion (the
    extension closes its consent window). The grant's expires_at, as the page was told it."""
    consent = ask_access(browser, page, {"scopes": SCOPES})
    [request_id] = parse_qs(urlparse(consent.url).query)["request"]
    with owner_session(browser.companion) as owner:
        approved = owner.post(f"/bodhi/v1/apps/access-requests/{request_id}/approve",
                              json={"scopes": SCOPES, "remember": False,
                                    "expires_in": LIFE_SECS})
        assert approved.status_code == 200, approved.text
    result = access_outcome(page)["result"]
    assert result["granted"] is True, result
    expires_at: int = result["expires_at"]
    assert 0 < expires_at - time.time() <= LIFE_SECS, result
    return expires_at


def grant_states(browser: Browser) -> dict[str, str]:
    with owner_session(browser.companion) as owner:
        listed = owner.get("/bodhi/v1/apps/grants?page_size=100")
        assert listed.status_code == 200, listed.text
    return {g["app"]: g["status"] for g in listed.json()["data"]}


def test_a_grant_that_runs_out_fires_grantchange_expired_on_its_origin_only(
        paired: Browser, pages: list[Page], origins: tuple[PageServer, PageServer]) -> None:
    page_a, page_b = pages
    expires_at = approved_for_a_minute(paired, page_a)
    consent = ask_access(paired, page_b, {"scopes": SCOPES})      # B: allow once (an hour)
    consent.get_by_test_id("consent-allow-once").click()
    assert access_outcome(page_b)["result"]["granted"] is True
    for page in pages:
        page.evaluate(LISTEN)
        page.wait_for_function("window.snapshots >= 1")           # the baseline: granted
    assert page_a.evaluate(CALL, "token") == "ok"
    seen_by_b = page_b.evaluate("window.snapshots")

    wait_ms = (expires_at - time.time() + SLACK_SECS) * 1000
    page_a.wait_for_function("window.heard.length >= 1", timeout=wait_ms)

    assert time.time() >= expires_at, "told before the grant's end"
    assert page_a.evaluate("window.heard") == [
        {"type": "grantchange", "detail": {"state": "expired"}}]
    assert [page_a.evaluate(CALL, name) for name in ("token", "chat")] == ["not_granted"] * 2
    assert grant_states(paired) == {origins[0].origin: "expired", origins[1].origin: "active"}
    # Page B was sent a snapshot too, and learned nothing about origin A; its grant stands.
    page_b.wait_for_function(f"window.snapshots > {seen_by_b}")
    assert page_b.evaluate("window.heard") == []
    assert page_b.evaluate(CALL, "token") == "ok"
