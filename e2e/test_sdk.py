"""The page authors' SDK and demo in Chromium. ``getBodhi()`` (served by the companion at
/ui/sdk/get-bodhi.js) rejects with ``not_installed`` in a browser without the extension,
resolves with a window.bodhi that appears late, and resolves at once with the extension. The
demo at /ui/demo/ is a page like any other site's (no session of the companion): it says the
extension is missing in a plain browser, and when the companion is unreachable or the browser
not paired; with the extension it connects through the consent window, streams a chat answer
that Stop stops, compares two sentences by embeddings, runs the Prompt API when the extension
has it, calls a tool of a real MCP server, and after Disconnect shows calls failing with
not_granted. Screenshots
(web-ui-demo-*.png, see e2e/web_ui.py) and axe-core's check on the way.

The test without the extension comes first: it runs its own Playwright, which must end
before the module's Chromium with the extension starts (one sync Playwright at a time).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from e2e.conftest import CHROMIUM, Browser, add_mcp_server, owner_session
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion
from tests.mcp_servers import serving

pytestmark = pytest.mark.slow
REPLY_MS = 120_000                        # a cold model load plus a reply on a busy machine

GET_BODHI = """async ([timeout, lateMs]) => {
    const { getBodhi } = await import('/ui/sdk/get-bodhi.js');
    if (lateMs !== null) {                 // a window.bodhi that arrives after the helper
        setTimeout(() => {
            window.bodhi = { late: true };
            window.dispatchEvent(new CustomEvent('bodhi:ready'));
        }, lateMs);
    }
    const started = performance.now();
    return getBodhi({ timeout }).then(
        (bodhi) => ({ resolved: bodhi === window.bodhi, late: bodhi.late === true,
                      ms: performance.now() - started }),
        (error) => ({ name: error.name, code: error.code, ms: performance.now() - started }));
}"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


def test_without_the_extension_get_bodhi_rejects_and_the_demo_says_so(
        companion: Companion, shots: Path) -> None:
    with sync_playwright() as playwright:
        plain = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                           args=["--headless=new", "--no-sandbox"])
        try:
            page = plain.new_page()
            page.goto(companion.url + "/ui/demo/")
            page.locator("[data-testid=state][data-state=missing]").wait_for(timeout=10_000)
            install = page.get_by_test_id("install").inner_text()
            hidden_cards = page.locator("section.needs-access[hidden]").count()
            shoot(page, shots, "demo-missing")
            problems = axe_problems(page)
            rejected = page.evaluate(GET_BODHI, [300, None])
            late = page.evaluate(GET_BODHI, [2000, 200])
        finally:
            plain.close()

    assert "bodhi extension export" in install
    assert hidden_cards == 4
    assert problems == []
    assert rejected["name"] == "BodhiError" and rejected["code"] == "not_installed"
    assert 300 <= rejected["ms"] < 2000, rejected
    assert late["resolved"] and late["late"] and late["ms"] < 1500, late


def demo_state(page: Page) -> str:
    # A function, not an expression: the page's CSP forbids the eval an expression needs.
    page.wait_for_function("() => document.querySelector('[data-testid=state]')"
                           "?.dataset.state !== 'checking'")
    return str(page.get_by_test_id("state").get_attribute("data-state"))


def test_the_demo_says_when_the_companion_is_unreachable_or_not_paired(
        browser: Browser, companion: Companion) -> None:
    browser.set_server_url(companion.url)                 # a fresh install looks at :1135
    page = browser.context.new_page()
    page.goto(companion.url + "/ui/demo/")
    not_paired = demo_state(page)
    browser.set_server_url("http://127.0.0.1:9")          # nothing listens on the discard port
    try:
        page.reload()
        unreachable = demo_state(page)
        text = page.get_by_test_id("state").inner_text()
    finally:
        browser.set_server_url(companion.url)
        page.close()

    assert not_paired == "not-paired"
    assert unreachable == "unreachable" and "http://127.0.0.1:9" in text


def test_with_the_extension_get_bodhi_resolves_at_once(paired: Browser,
                                                       companion: Companion) -> None:
    page = paired.context.new_page()
    page.goto(companion.url + "/ui/demo/")
    result = page.evaluate(GET_BODHI, [300, None])
    page.close()

    assert result["resolved"] and not result["late"], result
    assert result["ms"] < 250, result


@pytest.fixture(scope="module")
def mcp_url(companion: Companion) -> Iterator[str]:
    """The tools test server, registered with the owner's connection `demo-tools`."""
    with serving("tools") as base:
        with owner_session(companion) as owner:
            add_mcp_server(owner, "demo-tools", base + "/mcp", instance="demo-tools")
        yield base + "/mcp"


@pytest.fixture(scope="module")
def demo(paired: Browser, companion: Companion, mcp_url: str) -> Iterator[Page]:
    """The demo, connected: Connect (naming the MCP server), Allow once in the consent
    window."""
    page = paired.context.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(companion.url + "/ui/demo/")
    page.locator("[data-testid=state][data-state=no-access]").wait_for()
    page.get_by_test_id("mcp-server").fill(mcp_url)
    with paired.context.expect_page() as opened:
        page.get_by_test_id("connect").click()
    consent = opened.value
    consent.wait_for_selector("body[data-armed=true]")
    assert consent.get_by_test_id("scope-embeddings").is_checked()
    consent.get_by_test_id("consent-allow-once").click()
    page.locator("[data-testid=state][data-state=connected]").wait_for()
    yield page
    page.close()


def chat_text(page: Page) -> str:
    return str(page.get_by_test_id("chat-log").inner_text())


def test_chat_streams_and_stop_stops_it(demo: Page) -> None:
    demo.get_by_test_id("chat-send").click()
    demo.wait_for_function("""() => {
        const text = document.querySelector('[data-testid=chat-log]').innerText;
        return /Model: \\S+ \\S+/.test(text);
    }""", timeout=REPLY_MS)
    demo.get_by_test_id("chat-stop").click()
    demo.get_by_test_id("chat-log").get_by_text("(stopped)").wait_for()
    stopped = chat_text(demo)
    time.sleep(1)

    assert chat_text(demo) == stopped                         # nothing arrives after Stop
    assert demo.get_by_test_id("chat-send").is_enabled()
    assert demo.get_by_test_id("chat-stop").is_disabled()


def test_embeddings_compare_two_sentences(demo: Page) -> None:
    demo.get_by_test_id("embed-compare").click()
    result = demo.get_by_test_id("embed-result")
    demo.wait_for_function("""() => !document.querySelector('[data-testid=embed-result]')
        .textContent.startsWith('Comparing')""", timeout=REPLY_MS)

    found = re.search(r"Similarity: (-?\d\.\d{3})", result.inner_text())
    assert found, result.inner_text()
    assert -1.0 <= float(found.group(1)) <= 1.0


def test_the_prompt_api_session_answers(demo: Page) -> None:
    answer = demo.get_by_test_id("lm-answer")
    assert demo.evaluate("'LanguageModel' in window.bodhi")
    demo.get_by_test_id("lm-ask").click()
    demo.get_by_test_id("lm-usage").filter(has_text="tokens").wait_for(timeout=REPLY_MS)

    assert answer.inner_text().strip()
    assert "error" not in (answer.get_attribute("class") or "")


def test_a_tool_of_the_granted_mcp_server_is_called(demo: Page) -> None:
    demo.get_by_test_id("mcp-load").click()
    tool = demo.get_by_test_id("mcp-tool")
    tool.locator("option", has_text="add (demo-tools)").wait_for(state="attached")
    tool.select_option(label="add (demo-tools)")
    demo.get_by_test_id("mcp-args").fill('{"a": 2, "b": 3}')
    demo.get_by_test_id("mcp-call").click()

    demo.get_by_test_id("mcp-result").filter(has_text=re.compile(r"^5$")).wait_for()


def test_the_demo_looks_right_and_passes_axe(demo: Page, shots: Path) -> None:
    demo.evaluate("window.scrollTo(0, 0)")
    shoot(demo, shots, "demo")
    problems: list[dict[str, Any]] = axe_problems(demo)

    assert problems == []


def test_after_disconnect_calls_fail_with_not_granted(demo: Page) -> None:
    demo.get_by_test_id("disconnect").click()
    demo.locator("[data-testid=state][data-state=no-access]").wait_for()
    demo.get_by_test_id("embed-compare").click()
    result = demo.get_by_test_id("embed-result")
    result.filter(has_text="not_granted").wait_for()

    assert "error" in (result.get_attribute("class") or "")
    assert demo.get_by_test_id("disconnect").is_hidden()
    demo.get_by_test_id("last-event").filter(has_text="grantchange (revoked)").wait_for()
