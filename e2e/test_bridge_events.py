"""window.bodhi for web developers, in Chromium: a stream fails loudly (a model server killed
in the middle of it, a companion restarted), events reach the pages of their own origin only
(grantchange on a revoke from the popup, modelschange when a model is added, statechange when
the companion stops and comes back, and all of it after Chrome stopped the service worker),
and a frame is its own origin (it cannot use the top page's grant; it asks for itself)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from playwright.sync_api import Frame, Page

from e2e.conftest import Browser, PageServer, access_outcome, ask_access, owner_session
from e2e.streams import LISTEN, START, STREAMED, kill_model_servers, model_servers
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

MODEL = "smollm2:135m"
COPY = "smol:bridge-copy"         # a second alias of the same file: the granted list grows
STREAM_WAIT_MS = 120_000          # a cold model load, on a busy machine

# The statechange events heard so far, as their states.
STATES = "window.heard.filter((e) => e.type === 'statechange').map((e) => e.detail.state)"

CALL = """(name) => ({
    chat: () => window.bodhi.chat({messages: [{role: 'user', content: 'hi'}], max_tokens: 2}),
    token: () => window.bodhi.getToken(),
    models: () => window.bodhi.models.list(),
})[name]().then(() => 'ok', (e) => e.code)"""


@pytest.fixture(scope="module")
def page_a(paired: Browser, origins: tuple[PageServer, PageServer]) -> Iterator[Page]:
    page = paired.open(origins[0].origin)
    yield page
    page.close()


@pytest.fixture(scope="module")
def page_b(paired: Browser, origins: tuple[PageServer, PageServer]) -> Iterator[Page]:
    page = paired.open(origins[1].origin)
    yield page
    page.close()


def allow_once(browser: Browser, page: Page) -> None:
    consent = ask_access(browser, page, {"scopes": ["chat", "models"]})
    consent.get_by_test_id("consent-allow-once").click()
    assert access_outcome(page)["result"]["granted"] is True


def granted(browser: Browser, page: Page) -> None:
    """Gives the page's origin a grant unless it holds one (tests may run on their own)."""
    if page.evaluate(CALL, "token") != "ok":
        allow_once(browser, page)


def listening(page: Page | Frame) -> None:
    page.evaluate(LISTEN)
    page.wait_for_function("window.snapshots >= 1")


def stream_error(page: Page) -> dict[str, Any]:
    page.wait_for_function("window.streamed.error !== null || window.streamed.ended",
                           timeout=STREAM_WAIT_MS)
    streamed: dict[str, Any] = page.evaluate(STREAMED)
    return streamed


def test_a_model_server_killed_mid_stream_rejects_the_iterator(
        paired: Browser, page_a: Page) -> None:
    allow_once(paired, page_a)
    page_a.evaluate(START)
    page_a.wait_for_function("window.streamed.chunks >= 3", timeout=STREAM_WAIT_MS)

    assert kill_model_servers(paired.companion) >= 1

    streamed = stream_error(page_a)
    assert streamed["ended"] is False
    error = streamed["error"]
    assert error["isBodhiError"] and error["name"] == "BodhiError"
    assert (error["code"], error["server_code"]) == ("api_error", "model_server_lost"), error
    assert "stopped while answering" in error["message"]
    assert page_a.evaluate(CALL, "chat") == "ok"          # the model comes back on the next call


def test_a_frame_of_another_origin_has_its_own_bodhi_and_no_grant(
        paired: Browser, origins: tuple[PageServer, PageServer]) -> None:
    """The top page (origin A) holds a grant; its frame (origin B) does not inherit it."""
    top = paired.open(origins[0].origin, f"/framed.html?src={origins[1].origin}/app.html")
    try:
        frame = top.locator("iframe").element_handle().content_frame()
        assert frame is not None
        frame.wait_for_function("window.seen && window.seen.ready")
        assert frame.evaluate("location.origin") == origins[1].origin
        assert frame.evaluate("window.seen.bodhiAtFirstScript") == "object"
        granted(paired, top)

        assert [frame.evaluate(CALL, name) for name in ("chat", "token", "models")] == [
            "not_granted"] * 3

        with paired.context.expect_page() as opened:
            frame.evaluate("() => { window.ask({scopes: ['chat']}); }")
        consent = opened.value
        consent.wait_for_selector("body[data-ready=true]")
        shown = consent.get_by_test_id("consent-origin").inner_text()
        assert origins[1].origin in shown and origins[0].origin not in shown
        consent.get_by_test_id("consent-deny").click()
        frame.wait_for_function("window.access !== undefined")
        assert frame.evaluate("window.access") == {"error": ["BodhiError", "access_denied"]}
        assert top.evaluate(CALL, "token") == "ok"           # the top page's grant stands
    finally:
        top.close()


def test_grantchange_on_a_revoke_in_the_popup_reaches_only_that_origin(
        paired: Browser, page_a: Page, page_b: Page,
        origins: tuple[PageServer, PageServer]) -> None:
    granted(paired, page_a)
    listening(page_a)
    listening(page_b)
    popup = paired.popup()
    grant = popup.locator(f"[data-testid=grant][data-origin='{origins[0].origin}']")

    grant.get_by_test_id("grant-revoke").click()

    page_a.wait_for_function("window.heard.length >= 1")
    assert page_a.evaluate("window.heard") == [
        {"type": "grantchange", "detail": {"state": "revoked"}}]
    popup.close()
    # Page B was told something changed (a snapshot) and learned nothing about origin A.
    page_b.wait_for_function("window.snapshots >= 2")
    assert page_b.evaluate("window.heard") == []
    assert page_a.evaluate(CALL, "token") == "not_granted"

    allow_once(paired, page_a)
    page_a.wait_for_function("window.heard.length >= 2")
    assert page_a.evaluate("window.heard")[1] == {"type": "grantchange",
                                                  "detail": {"state": "granted"}}
    assert page_b.evaluate("window.heard") == []


def test_modelschange_when_a_model_is_added_for_a_grant_of_every_model(
        paired: Browser, page_a: Page) -> None:
    granted(paired, page_a)
    listening(page_a)
    before = [m["id"] for m in page_a.evaluate("window.bodhi.models.list()")["data"]]

    with owner_session(paired.companion) as owner:
        made = owner.post(f"/bodhi/v1/models/alias/{MODEL}/copy", json={"alias": COPY})
        assert made.status_code == 201, made.text
        owner.get("/v1/models")                   # the catalog notices on its next look

    page_a.wait_for_function("window.heard.some((e) => e.type === 'modelschange')")
    [event] = page_a.evaluate("window.heard")
    assert event["type"] == "modelschange"
    assert sorted(event["detail"]["models"]) == sorted([*before, COPY])


def test_events_go_on_after_chrome_stops_the_service_worker(
        paired: Browser, page_a: Page) -> None:
    """Chrome stops an idle service worker, which closes every frame's events port: the
    content script opens it again and the page keeps hearing."""
    granted(paired, page_a)
    listening(page_a)
    seen = page_a.evaluate("window.snapshots")
    cdp = paired.context.new_cdp_session(page_a)

    cdp.send("ServiceWorker.enable")
    cdp.send("ServiceWorker.stopAllWorkers")

    page_a.wait_for_function(f"window.snapshots > {seen}")     # subscribed again
    page_a.evaluate("window.bodhi.revoke()")
    page_a.wait_for_function("window.heard.length >= 1")
    assert page_a.evaluate("window.heard") == [
        {"type": "grantchange", "detail": {"state": "revoked"}}]
    cdp.detach()


def test_a_companion_crash_and_restart_rejects_the_stream_and_fires_statechange(
        paired: Browser, page_a: Page) -> None:
    """Runs last: it stops the module's companion and starts it again."""
    granted(paired, page_a)
    listening(page_a)
    page_a.evaluate(START)
    page_a.wait_for_function("window.streamed.chunks >= 3", timeout=STREAM_WAIT_MS)

    # A crash cuts the connection (a graceful stop ends the stream with the server's own
    # model_server_lost error event instead). Its llama.cpp children outlive it: they go too,
    # as they would with the machine.
    orphans = model_servers(paired.companion)
    paired.companion.stop(signal.SIGKILL)
    for orphan in orphans:
        with contextlib.suppress(psutil.NoSuchProcess):
            orphan.kill()

    streamed = stream_error(page_a)
    assert streamed["error"]["isBodhiError"], streamed
    assert streamed["error"]["code"] == "unreachable", streamed
    page_a.wait_for_function(f"{STATES}.length >= 1")
    assert page_a.evaluate(STATES) == ["unreachable"]

    paired.companion.start()

    page_a.wait_for_function(f"{STATES}.length >= 2", timeout=60_000)
    assert page_a.evaluate(STATES) == ["unreachable", "ready"]
    assert wait_until(lambda: page_a.evaluate(CALL, "token") == "ok", timeout=10)
