"""Browser tier: real Chromium with the built extension, the real native host (installed into
the test profile with ``--user-data-dir``), the real companion and model, and test pages served
from two loopback origins. One companion and one browser per test module."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from native_host.ids import CHROME_EXTENSION_ID
from tests.conftest import Companion, running_companion

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
PAGES = Path(__file__).resolve().parent / "pages"
EXTENSION_URL = f"chrome-extension://{CHROME_EXTENSION_ID}"
UI_TIMEOUT_MS = 30_000


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class PageServer:
    """Serves e2e/pages on a loopback port: one web origin."""

    def __init__(self) -> None:
        handler = functools.partial(_QuietHandler, directory=str(PAGES))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def extension_dir() -> Path:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--no-zip"],
                   check=True, capture_output=True, timeout=60)
    return ROOT / "dist" / "extension" / "chrome"


@pytest.fixture(scope="session")
def origins() -> Iterator[tuple[PageServer, PageServer]]:
    a, b = PageServer(), PageServer()
    yield a, b
    a.close()
    b.close()


@pytest.fixture(scope="module")
def companion_env() -> dict[str, str]:
    """Extra environment for the module's companion; a test module may override it."""
    return {}


@pytest.fixture(scope="module")
def companion(tmp_path_factory: pytest.TempPathFactory,
              companion_env: dict[str, str]) -> Iterator[Companion]:
    """A companion as `bodhi serve` starts it: ready at once, in local owner mode."""
    with running_companion(tmp_path_factory.mktemp("companion"), **companion_env) as running:
        info = httpx.get(running.url + "/bodhi/v1/info", timeout=30).json()
        assert (info["status"], info["auth_mode"]) == ("ready", "local"), info
        yield running


def install_native_host(companion: Companion, user_data_dir: Path) -> None:
    env = {**companion.env}
    subprocess.run([sys.executable, "-m", "companion", "install-native-host", "--browser",
                    "chromium", "--user-data-dir", str(user_data_dir)],
                   env=env, check=True, capture_output=True, timeout=60)


class Browser:
    """The test's handle on Chromium with the extension loaded."""

    def __init__(self, context: BrowserContext, companion: Companion) -> None:
        self.context = context
        self.companion = companion

    def open(self, origin: str, path: str = "/app.html") -> Page:
        page = self.context.new_page()
        page.goto(origin + path)
        page.wait_for_function("window.seen !== undefined")
        return page

    def extension_page(self, path: str) -> Page:
        page = self.context.new_page()
        page.goto(f"{EXTENSION_URL}/{path}")
        return page

    def set_server_url(self, url: str) -> None:
        page = self.extension_page("options/options.html")
        page.wait_for_selector("body[data-ready=true]")
        page.get_by_test_id("server-url").fill(url)
        page.get_by_test_id("settings-save").click()
        page.get_by_test_id("settings-status").filter(has_text="Saved").wait_for()
        page.close()

    def popup(self) -> Page:
        """The popup with its details (a fresh install's popup opens on the first-run guide
        instead: see test_first_run.py)."""
        page = self.extension_page("popup/popup.html?details=1")
        page.wait_for_selector("body[data-rendered]")
        return page


@pytest.fixture(scope="module")
def browser_args() -> list[str]:
    """Extra Chromium flags for the module's browser; a test module may override it."""
    return []


@pytest.fixture(scope="module")
def browser(extension_dir: Path, companion: Companion, browser_args: list[str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: scripts/test installs it (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    install_native_host(companion, profile)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=False,
            ignore_default_args=["--disable-extensions"],
            args=["--headless=new", "--no-sandbox", "--no-first-run",
                  f"--disable-extensions-except={extension_dir}",
                  f"--load-extension={extension_dir}", *browser_args],
            env={**os.environ, "HOME": str(profile)})
        context.set_default_timeout(UI_TIMEOUT_MS)
        with contextlib.suppress(Exception):
            if not context.service_workers:
                context.wait_for_event("serviceworker", timeout=UI_TIMEOUT_MS)
        try:
            yield Browser(context, companion)
        finally:
            context.close()


REQUEST_ACCESS = """(params) => {
    window.access = undefined;
    window.bodhi.requestAccess(params).then(
        (result) => { window.access = {result}; },
        (error) => { window.access = {error: [error.name, error.code]}; });
}"""


def ask_access(browser: Browser, page: Page, params: dict[str, Any]) -> Page:
    """Starts requestAccess on `page` (Playwright's evaluate counts as a user action) and
    returns the consent window it opened."""
    with browser.context.expect_page() as opened:
        page.evaluate(REQUEST_ACCESS, params)
    consent = opened.value
    consent.wait_for_selector("body[data-ready=true]")
    return consent


def access_outcome(page: Page) -> dict[str, Any]:
    page.wait_for_function("window.access !== undefined")
    outcome: dict[str, Any] = page.evaluate("window.access")
    return outcome


def consent_windows(browser: Browser) -> list[Page]:
    return [p for p in browser.context.pages if "consent.html" in p.url and not p.is_closed()]


@pytest.fixture(scope="module")
def paired(browser: Browser) -> Browser:
    popup = browser.popup()
    popup.get_by_test_id("pair-native").click()
    popup.get_by_test_id("pair-state").filter(has_text="Paired").wait_for()
    popup.close()
    return browser


@pytest.fixture
def new_page(paired: Browser) -> Iterator[Callable[..., Page]]:
    """Opens pages, each on an origin of its own: no grant, and no refusal (cool-down) behind
    it. Everything opened is closed after the test."""
    opened: list[tuple[PageServer, Page]] = []

    def open_page(path: str = "/app.html") -> Page:
        server = PageServer()
        opened.append((server, paired.open(server.origin, path)))
        return opened[-1][1]

    try:
        yield open_page
    finally:
        for server, page in opened:
            if not page.is_closed():
                page.close()
            server.close()


@pytest.fixture
def fresh_page(new_page: Callable[..., Page]) -> Page:
    return new_page()


@contextlib.contextmanager
def owner_session(companion: Companion) -> Iterator[httpx.Client]:
    """The owner signed in to the companion, as `bodhi open` does it: for admin calls."""
    login = companion.cli("open", "--no-browser").strip().splitlines()[-1]
    with httpx.Client(base_url=companion.url, timeout=60,
                      headers={"Origin": companion.url}) as client:
        landed = client.get(login)
        assert landed.status_code == 200, landed.text
        yield client


def add_mcp_server(owner: httpx.Client, name: str, url: str, *,
                   instance: str | None = None) -> dict[str, Any]:
    """Registers a remote MCP server and, when `instance` names one, the owner's connection
    to it. Returns {"server": ..., "instance": ... | None} as the companion answered."""
    server = owner.post("/bodhi/v1/mcps/servers", json={"name": name, "url": url,
                                                         "enabled": True})
    assert server.status_code in (200, 201), server.text
    made: dict[str, Any] = {"server": server.json(), "instance": None}
    if instance is not None:
        created = owner.post("/bodhi/v1/mcps", json={
            "server_id": made["server"]["id"], "name": instance, "slug": instance,
            "enabled": True})
        assert created.status_code in (200, 201), created.text
        made["instance"] = created.json()
    return made
