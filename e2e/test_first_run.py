"""First run, zero configuration: a fresh companion (new BODHI_HOME, no setup, no pairing) and
a fresh browser profile with the extension and its native host. A page's requestAccess opens
the guide window, which starts the companion or pairs through the native host and goes on to
the consent window for the same request; the page then chats with the real model. No CLI
step, no settings page, in between.

The tests run in order and share the module's browser: the toolbar and cancel checks need the
unpaired extension, the zero-config test pairs it, the last one unpairs and stops the companion.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page

from e2e.conftest import EXTENSION_URL, REQUEST_ACCESS, Browser, PageServer, access_outcome
from tests.conftest import Companion, listener_on, stop_listener

MODEL = "smollm2:135m"
START_TIMEOUT_MS = 120_000
# Where the screenshots of the guide go (docs/images refreshes the docs' picture).
SHOTS = os.environ.get("E2E_SCREENSHOTS")

CHAT = """async (model) => {
    const reply = await window.bodhi.chat({model, max_tokens: 8,
        messages: [{role: 'user', content: 'Say hello'}]});
    return [reply.object, reply.model, reply.choices[0].message.role];
}"""


def shoot(page: Page, name: str, width: int = 440, height: int = 420) -> None:
    """With E2E_SCREENSHOTS=<folder>: `name`.png at the window's size. extension-guide.png
    is the one docs/extension.md shows (E2E_SCREENSHOTS=docs/images refreshes it)."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def wait_for_window(browser: Browser, part: str, timeout_s: float = 60) -> Page:
    """The extension window whose URL contains `part`, once it has opened."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pages = [p for p in browser.context.pages if not p.is_closed()]
        for page in pages:
            if part in page.url:
                return page
        pages[0].wait_for_timeout(100)           # lets Playwright take in the new window
    raise AssertionError(f"no {part} window within {timeout_s} s")


def open_guide(browser: Browser, page: Page) -> Page:
    """Calls requestAccess on `page` (Playwright's evaluate counts as a user action); the
    extension answers with its guide window."""
    page.evaluate(REQUEST_ACCESS, {"scopes": ["chat"]})
    guide = wait_for_window(browser, "guide/guide.html")
    guide.wait_for_selector("body[data-rendered]")
    return guide


@pytest.fixture
def site(browser: Browser) -> Iterator[Page]:
    """A page on an origin of its own."""
    server = PageServer()
    page = browser.open(server.origin)
    yield page
    page.close()
    server.close()


def allow_once_and_chat(browser: Browser, site: Page) -> list[str]:
    consent = wait_for_window(browser, "consent/consent.html")
    consent.wait_for_selector("body[data-ready=true]")
    assert site.evaluate("location.origin") in consent.get_by_test_id("consent-origin").inner_text()
    consent.get_by_test_id("consent-allow-once").click()
    outcome = access_outcome(site)
    assert outcome["result"]["granted"] is True, outcome
    assert outcome["result"]["scopes"] == ["chat"]
    reply: list[str] = site.evaluate(CHAT, MODEL)
    return reply


def test_the_toolbar_button_opens_on_the_guide(browser: Browser) -> None:
    popup = browser.extension_page("popup/popup.html")      # what the toolbar button opens

    popup.wait_for_url("**/guide/guide.html?popup=1")
    popup.wait_for_selector("body[data-rendered]")
    shoot(popup, "guide-popup", 388, 380)
    assert popup.get_by_test_id("guide-title").inner_text() == (
        "Pair this browser with the companion")
    assert popup.get_by_test_id("guide-pair").is_visible()
    assert popup.get_by_test_id("step-pair").get_attribute("data-state") == "current"
    if SHOTS:
        popup.emulate_media(color_scheme="dark")
        shoot(popup, "guide-popup-dark", 388, 380)
        popup.emulate_media(color_scheme="light")

    popup.get_by_test_id("guide-details").click()           # More options: the full popup
    popup.wait_for_url("**/popup/popup.html?details=1")
    popup.wait_for_selector("body[data-rendered]")
    popup.get_by_test_id("pair-code").fill("ZZZZ-2345")
    popup.get_by_test_id("pair-code-submit").click()
    error = popup.get_by_test_id("popup-error")
    error.filter(has_text="tries left").wait_for()
    assert "9 tries left" in error.inner_text()
    popup.close()


def test_without_a_click_nothing_opens(browser: Browser) -> None:
    server = PageServer()
    page = browser.open(server.origin, "/app.html#ask-on-load")    # asks with no user action

    assert access_outcome(page) == {"error": ["BodhiError", "not_paired"]}
    assert not [p for p in browser.context.pages if "guide.html" in p.url]
    page.close()
    server.close()


def test_closing_the_guide_rejects_with_setup_cancelled(browser: Browser, site: Page) -> None:
    guide = open_guide(browser, site)
    assert site.evaluate("location.origin") == guide.get_by_test_id("guide-site").inner_text()
    shoot(guide, "extension-guide")

    guide.close()

    assert access_outcome(site) == {"error": ["BodhiError", "setup_cancelled"]}


def test_zero_config_a_page_asks_the_guide_pairs_and_the_page_chats(
        browser: Browser, site: Page) -> None:
    guide = open_guide(browser, site)
    assert guide.get_by_test_id("step-pair").get_attribute("data-state") == "current"
    assert guide.get_by_test_id("step-start").get_attribute("data-state") == "done"

    guide.get_by_test_id("guide-pair").click()

    assert allow_once_and_chat(browser, site) == ["chat.completion", MODEL, "assistant"]
    assert guide.is_closed()
    assert site.evaluate("window.bodhi.serverState()")["status"] == "ready"
    popup = browser.extension_page("popup/popup.html")       # set up: no guide any more
    popup.wait_for_selector("body[data-rendered]")
    assert popup.url == f"{EXTENSION_URL}/popup/popup.html"
    assert popup.get_by_test_id("server-status").inner_text() == "ready"
    popup.close()



@pytest.fixture
def stopped(browser: Browser) -> Iterator[Companion]:
    """The companion stopped and the extension unpaired; afterwards the companion that the
    native host started is stopped by its PID."""
    popup = browser.popup()
    popup.get_by_test_id("unpair").click()
    popup.get_by_test_id("pair-state").filter(has_text="Not paired").wait_for()
    popup.close()
    companion = browser.companion
    companion.stop()
    yield companion
    stop_listener(companion.port)


def test_companion_stopped_the_guide_starts_it_then_pairs(
        browser: Browser, stopped: Companion, site: Page) -> None:
    guide = open_guide(browser, site)
    assert guide.get_by_test_id("guide-title").inner_text() == "The Bodhi companion is not running"
    shoot(guide, "guide-start")

    guide.get_by_test_id("guide-start").click()
    guide.get_by_test_id("guide-pair").wait_for(state="visible", timeout=START_TIMEOUT_MS)
    started = listener_on(stopped.port)
    assert started is not None and started.cmdline()[-2:] == ["companion", "serve"]
    guide.get_by_test_id("guide-pair").click()

    assert allow_once_and_chat(browser, site) == ["chat.completion", MODEL, "assistant"]
    assert httpx.get(stopped.url + "/ping", timeout=5).json() == {"message": "pong"}

