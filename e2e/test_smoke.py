"""The extension loads in Chromium, defines window.bodhi, and reaches companion and host."""

from __future__ import annotations

from pathlib import Path

import httpx

from e2e.conftest import EXTENSION_URL, Browser, PageServer, access_outcome
from tests.conftest import running_companion


def test_the_service_worker_is_our_pinned_extension(browser: Browser) -> None:
    urls = [worker.url for worker in browser.context.service_workers]

    assert f"{EXTENSION_URL}/background/main.js" in urls


def test_window_bodhi_is_there_before_page_scripts_and_cannot_be_replaced(
        browser: Browser, origins: tuple[PageServer, PageServer]) -> None:
    page = browser.open(origins[0].origin)

    page.wait_for_function("window.seen.ready === true")
    state = page.evaluate("""() => {
        const before = window.bodhi;
        try { window.bodhi = {}; } catch (e) {}
        const d = Object.getOwnPropertyDescriptor(window, 'bodhi');
        return { first: window.seen.bodhiAtFirstScript, same: window.bodhi === before,
                 writable: d.writable, configurable: d.configurable,
                 api: Object.keys(window.bodhi).sort(),
                 create: typeof window.bodhi.chat.completions.create };
    }""")

    assert state == {"first": "object", "same": True, "writable": False, "configurable": False,
                     "api": ["BodhiError", "LanguageModel", "addEventListener", "chat",
                             "embeddings", "getToken", "mcp", "models", "removeEventListener",
                             "requestAccess", "revoke", "serverState"],
                     "create": "function"}


def test_server_state_follows_the_configured_url(
        browser: Browser, origins: tuple[PageServer, PageServer]) -> None:
    page = browser.open(origins[0].origin)
    browser.set_server_url("http://127.0.0.1:9")          # nothing listens on the discard port
    unreachable = page.evaluate("window.bodhi.serverState()")

    browser.set_server_url(browser.companion.url)
    reachable = page.evaluate("window.bodhi.serverState()")

    assert unreachable == {"status": "unreachable", "url": "http://127.0.0.1:9"}
    assert reachable["status"] == "not-paired"
    assert reachable["url"] == browser.companion.url
    assert reachable["version"]


def test_a_fresh_companion_needs_no_setup_step(
        browser: Browser, origins: tuple[PageServer, PageServer], tmp_path: Path) -> None:
    """No setup window: a companion started on a fresh BODHI_HOME is ready in local owner
    mode at once, and the popup asks only for pairing."""
    page = browser.open(origins[0].origin)
    with running_companion(tmp_path) as fresh:
        browser.set_server_url(fresh.url)
        state = page.evaluate("window.bodhi.serverState()")
        popup = browser.popup()
        hint = popup.get_by_test_id("server-hint").inner_text()
        popup.close()
        info = httpx.get(fresh.url + "/bodhi/v1/info", timeout=30).json()
    browser.set_server_url(browser.companion.url)

    assert state["status"] == "not-paired" and state["url"] == fresh.url
    assert (info["status"], info["auth_mode"]) == ("ready", "local")
    assert "not paired" in hint and "setup" not in hint


def test_calls_without_pairing_fail_with_a_code(
        browser: Browser, origins: tuple[PageServer, PageServer]) -> None:
    """requestAccess here comes with no click (on load), so it fails at once; with a click it
    opens the setup window instead (test_first_run.py)."""
    browser.set_server_url(browser.companion.url)
    page = browser.open(origins[0].origin, "/app.html#ask-on-load")

    codes = page.evaluate("""async () => {
        const out = {};
        for (const [name, call] of [
            ['chat', () => window.bodhi.chat({messages: [{role: 'user', content: 'hi'}]})],
            ['getToken', () => window.bodhi.getToken()]]) {
          try { await call(); out[name] = 'resolved'; }
          catch (e) { out[name] = [e.name, e.code]; }
        }
        return out;
    }""")

    assert access_outcome(page) == {"error": ["BodhiError", "not_paired"]}
    assert codes == {"chat": ["BodhiError", "not_granted"],
                     "getToken": ["BodhiError", "not_granted"]}


def test_the_popup_reports_the_native_host_and_the_companion(browser: Browser) -> None:
    browser.set_server_url(browser.companion.url)
    popup = browser.popup()

    popup.get_by_test_id("native-state").filter(has_text="companion running").wait_for()
    assert popup.get_by_test_id("server-status").inner_text() == "not-paired"
    assert popup.get_by_test_id("pair-native").is_visible()
    assert popup.get_by_test_id("native-missing").is_hidden()
