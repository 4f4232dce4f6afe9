"""The web UI's MCP page in real Chromium against the real companion and real MCP servers on
loopback (tests/mcp_servers): the admin adds a server in the form (a bad URL is caught before
sending, a taken name comes back from the companion under its field), adds an instance, sees
the server's tools and narrows the allow-list, which holds (the companion's proxy refuses the
tool left out, through the MCP SDK's own client); a change made outside the browser shows
without a reload; an OAuth server's instance connects through the real OAuth-protected test
server in a window of its own and the page shows it connected.

Screenshots (1280 and 390 px): the lists, the server form, an instance with its tools."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import MCPError
from playwright.sync_api import Locator, Page, expect

from e2e.conftest import Browser, owner_session
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion
from tests.integration.mcp_api import sdk_session
from tests.integration.mcp_stdio import call_text
from tests.mcp_servers import serving

pytestmark = pytest.mark.slow

AN_INSTANCE = re.compile(r".*/ui/mcp/instances/[0-9a-f-]{36}$")
TOOLS = ["add", "count", "crash", "echo", "whoami"]


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def owner(companion: Companion) -> Iterator[httpx.Client]:
    with owner_session(companion) as client:
        yield client


@pytest.fixture(scope="module")
def tools_url() -> Iterator[str]:
    with serving("tools") as base:
        yield base + "/mcp"


@pytest.fixture(scope="module")
def oauth_url() -> Iterator[str]:
    with serving("oauth_server") as base:
        yield base + "/mcp"


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    """One signed-in tab (the owner: an admin) on the MCP page, its events socket open."""
    tab = browser.context.new_page()
    tab.set_viewport_size({"width": 1280, "height": 800})
    tab.goto(browser.companion.cli("open", "--no-browser").strip().splitlines()[-1])
    tab.wait_for_url("**/ui/chat")
    tab.get_by_test_id("nav-mcp").click()
    tab.get_by_test_id("mcp-page").wait_for()
    # A function, not an expression: the UI's CSP forbids eval.
    tab.wait_for_function("() => document.body.dataset.events === 'open'")
    yield tab
    tab.close()


def servers(owner: httpx.Client) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in owner.get("/bodhi/v1/mcps/servers").json()["data"]}


def server_row(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid=server-row][data-name="{name}"]')


def fill(page: Page, **fields: str) -> None:
    for name, value in fields.items():
        page.get_by_test_id(f"field-{name}").fill(value)


def test_the_admin_adds_a_server_and_the_form_shows_errors_by_their_fields(
        page: Page, owner: httpx.Client, tools_url: str, shots: Path) -> None:
    expect(page.get_by_test_id("servers-empty")).to_be_visible()
    page.get_by_test_id("server-add").click()
    page.wait_for_url("**/ui/mcp/servers/new")
    fill(page, name="tools", url="mcp.example.com/mcp", description="The test tools")
    page.get_by_test_id("server-save").click()
    # Caught before sending: nothing reached the companion.
    expect(page.get_by_test_id("error-url")).to_contain_text("full URL")
    expect(page.get_by_test_id("field-url")).to_be_focused()
    assert servers(owner) == {}
    page.get_by_test_id("field-auth_type").select_option("header")
    expect(page.get_by_test_id("field-keys")).to_be_visible()
    assert axe_problems(page) == []
    shoot(page, shots, "mcp-server-form")
    page.get_by_test_id("field-auth_type").select_option("none")

    fill(page, url=tools_url)
    page.get_by_test_id("server-save").click()
    page.wait_for_url("**/ui/mcp")
    row = server_row(page, "tools")
    expect(row).to_contain_text(tools_url)
    assert servers(owner)["tools"]["url"] == tools_url

    # The companion's own refusal (the name is taken) comes back under the name.
    page.get_by_test_id("server-add").click()
    fill(page, name="tools", url=tools_url + "?again")
    page.get_by_test_id("server-save").click()
    expect(page.get_by_test_id("error-name")).to_contain_text("already registered")
    expect(page.get_by_test_id("form-error")).to_have_count(0)
    assert list(servers(owner)) == ["tools"]
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url("**/ui/mcp")


def test_a_local_server_keeps_its_environment_secret(page: Page, owner: httpx.Client) -> None:
    page.get_by_test_id("server-add").click()
    page.get_by_test_id("field-kind").select_option("stdio")
    fill(page, name="local", command=sys.executable, args="-m\ntests.mcp_servers.tools\n--stdio",
         env="API_KEY=s3cret\nno value here")
    page.get_by_test_id("server-save").click()
    expect(page.get_by_test_id("error-env")).to_contain_text('"no value here" is not NAME=value')
    fill(page, env="API_KEY=s3cret")
    page.get_by_test_id("server-save").click()
    page.wait_for_url("**/ui/mcp")
    local = servers(owner)["local"]
    assert (local["kind"], local["args"], local["env_keys"]) == (
        "stdio", ["-m", "tests.mcp_servers.tools", "--stdio"], ["API_KEY"])
    assert "s3cret" not in json.dumps(local)

    # An edit with the environment box left empty keeps it.
    server_row(page, "local").get_by_test_id("server-edit").click()
    expect(page.get_by_test_id("field-env")).to_have_value("")
    expect(page.get_by_text("Empty keeps the stored API_KEY.")).to_be_visible()
    fill(page, description="Runs here")
    page.get_by_test_id("server-save").click()
    page.wait_for_url("**/ui/mcp")
    local = servers(owner)["local"]
    assert (local["description"], local["env_keys"]) == ("Runs here", ["API_KEY"])


def test_an_instance_shows_the_tools_and_the_allow_list_holds(
        page: Page, owner: httpx.Client, companion: Companion, shots: Path) -> None:
    server_row(page, "tools") \
        .get_by_test_id("server-connect").click()
    page.wait_for_url("**/ui/mcp/instances/new?server=*")
    fill(page, name="Tools e2e")
    page.get_by_test_id("instance-save").click()
    page.wait_for_url(AN_INSTANCE)
    instance_id = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_test_id("instance-state")).to_have_attribute("data-state", "ready")
    rows = page.get_by_test_id("tool-row")
    expect(rows).to_have_count(len(TOOLS))
    assert sorted(rows.evaluate_all("rs => rs.map((r) => r.dataset.name)")) == TOOLS
    expect(rows.filter(has_text="echo")).to_contain_text("Return the text unchanged.")
    expect(page.get_by_test_id("tools-all")).to_be_checked()

    page.get_by_test_id("tools-all").uncheck()
    page.get_by_test_id("tool-whoami").uncheck()
    page.get_by_test_id("tool-crash").focus()
    page.keyboard.press("Space")                   # the boxes work from the keyboard
    expect(page.get_by_test_id("tool-crash")).not_to_be_checked()
    page.get_by_test_id("tools-save").click()
    expect(page.get_by_test_id("tools").get_by_test_id("notice")).to_have_text("Saved")
    shown = owner.get(f"/bodhi/v1/mcps/{instance_id}").json()
    assert (shown["slug"], shown["allowed_tools"]) == ("tools-e2e", ["add", "count", "echo"])

    # It holds: after a reload, and at the companion's proxy (the MCP SDK's client).
    page.reload()
    expect(page.get_by_test_id("tool-whoami")).not_to_be_checked()
    expect(page.get_by_test_id("tool-echo")).to_be_checked()
    expect(page.get_by_test_id("tools-all")).not_to_be_checked()
    with page.expect_response(lambda r: r.url.endswith("/tools?refresh=1")) as asked:
        page.get_by_test_id("tools-refresh").click()
    assert asked.value.status == 200
    expect(page.get_by_test_id("tool-row")).to_have_count(len(TOOLS))
    expect(page.get_by_test_id("tool-whoami")).not_to_be_checked()
    assert axe_problems(page) == []
    shoot(page, shots, "mcp-instance")
    token = owner.post("/bodhi/v1/tokens", json={"name": "mcp-ui", "mcps": [instance_id]})
    assert token.status_code == 201, token.text
    # A thread of its own: Playwright's sync API keeps an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _refused_and_allowed(
            f"{companion.url}/bodhi/v1/mcps/{instance_id}/mcp", token.json()["token"])
        ).result(timeout=60)


async def _refused_and_allowed(url: str, token: str) -> None:
    async with sdk_session(url, token) as session:
        listed = await session.list_tools()
        assert sorted(t.name for t in listed.tools) == ["add", "count", "echo"]
        with pytest.raises(MCPError) as refused:
            await session.call_tool("whoami", {})
        assert "'whoami' is not allowed" in refused.value.error.message
        assert await call_text(session, "echo", text="allowed") == "allowed"


def test_the_lists_follow_changes_made_elsewhere(
        page: Page, owner: httpx.Client, tools_url: str, shots: Path) -> None:
    page.get_by_role("link", name="All MCP servers and instances").click()
    page.wait_for_url("**/ui/mcp")
    expect(page.get_by_test_id("instance-row")).to_have_count(1)
    made = owner.post("/bodhi/v1/mcps/servers", json={
        "name": "outside", "url": tools_url + "?outside", "description": "Added by the API",
        "auth_config": {"type": "header", "keys": ["X-Api-Key"]}})
    assert made.status_code == 201, made.text
    expect(server_row(page, "outside")) \
        .to_contain_text("API key in a header (X-Api-Key)")
    expect(page.get_by_test_id("instance-row")).to_contain_text("3 allowed")
    assert axe_problems(page) == []
    shoot(page, shots, "mcp")

    local = server_row(page, "local")
    local.get_by_test_id("server-delete").click()
    local.get_by_test_id("server-delete-confirm").click()
    expect(page.get_by_test_id("server-row")).to_have_count(2)
    assert sorted(servers(owner)) == ["outside", "tools"]


def test_a_keyed_instance_takes_its_key_and_never_shows_it(
        page: Page, owner: httpx.Client) -> None:
    server_row(page, "outside").get_by_test_id("server-connect").click()
    key = page.get_by_test_id("field-cred-X-Api-Key")
    # The keyboard alone: type the name, Enter submits; the missing key is caught first.
    page.get_by_test_id("field-name").press_sequentially("Keyed")
    page.get_by_test_id("field-name").press("Enter")
    expect(page.get_by_test_id("error-cred_X-Api-Key")).to_have_text("X-Api-Key is required.")
    expect(key).to_be_focused()
    assert axe_problems(page) == []
    page.keyboard.type("k3y-never-shown")
    page.keyboard.press("Enter")
    page.wait_for_url(AN_INSTANCE)
    instance_id = page.url.rsplit("/", 1)[-1]
    shown = owner.get(f"/bodhi/v1/mcps/{instance_id}").json()
    assert (shown["slug"], shown["credential_keys"]) == ("keyed", ["X-Api-Key"])
    expect(key).to_have_value("")
    expect(page.get_by_text("Set. Empty keeps it.")).to_be_visible()
    assert "k3y-never-shown" not in page.content()
    # An edit that leaves the key empty keeps it.
    page.get_by_test_id("field-name").fill("Keyed renamed")
    page.get_by_test_id("instance-save").click()
    expect(page.get_by_test_id("instance")).to_contain_text("Keyed renamed")
    shown = owner.get(f"/bodhi/v1/mcps/{instance_id}").json()
    assert (shown["name"], shown["credential_keys"]) == ("Keyed renamed", ["X-Api-Key"])
    page.get_by_role("link", name="All MCP servers and instances").click()
    expect(page.get_by_test_id("instance-row")).to_have_count(2)


def test_an_oauth_instance_connects_in_its_own_window(
        browser: Browser, page: Page, owner: httpx.Client, oauth_url: str) -> None:
    page.get_by_test_id("server-add").click()
    fill(page, name="oauth", url=oauth_url)
    page.get_by_test_id("field-auth_type").select_option("oauth")
    fill(page, client_secret="no id")
    page.get_by_test_id("server-save").click()
    expect(page.get_by_test_id("error-client_id")).to_contain_text("needs its client id")
    fill(page, client_secret="")
    page.get_by_test_id("server-save").click()
    page.wait_for_url("**/ui/mcp")
    assert servers(owner)["oauth"]["auth_config"]["client_id"] is None   # registers itself

    server_row(page, "oauth") \
        .get_by_test_id("server-connect").click()
    fill(page, name="OAuth e2e", slug="tools-e2e")
    page.get_by_test_id("instance-save").click()
    expect(page.get_by_test_id("error-slug")).to_contain_text("already have")
    fill(page, slug="oauth-e2e")
    page.get_by_test_id("instance-save").click()
    page.wait_for_url(AN_INSTANCE)
    expect(page.get_by_test_id("instance-state")).to_have_attribute("data-state",
                                                                   "not connected")
    with browser.context.expect_page() as opened:
        page.get_by_test_id("instance-connect").click()
    login = opened.value
    expect(login.locator("h1")).to_have_text("Connected to oauth")
    assert login.evaluate("() => window.opener") is None
    back = login.get_by_role("link", name="back to the instance").get_attribute("href")
    assert back is not None and page.url.endswith(back)
    login.close()
    # The callback's event, no reload: connected, and the server's tools behind the login.
    expect(page.get_by_test_id("instance-state")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("tool-row")).to_have_count(3)
    expect(page.get_by_test_id("instance-connect")).to_have_text("Reconnect")
    assert axe_problems(page) == []


def test_a_connect_that_cannot_start_says_why(
        browser: Browser, page: Page, owner: httpx.Client, tools_url: str) -> None:
    """A server set to OAuth that has none: the companion's discovery error, and the window
    opened for the login is closed again."""
    server = owner.post("/bodhi/v1/mcps/servers", json={
        "name": "no-oauth", "url": tools_url + "?no-oauth", "auth_config": {"type": "oauth"}})
    assert server.status_code == 201, server.text
    made = owner.post("/bodhi/v1/mcps", json={
        "server_id": server.json()["id"], "name": "No OAuth", "slug": "no-oauth"})
    assert made.status_code == 201, made.text
    page.goto(f"{browser.companion.url}/ui/mcp/instances/{made.json()['id']}")
    with browser.context.expect_page() as opened:
        page.get_by_test_id("instance-connect").click()
    if not opened.value.is_closed():
        opened.value.wait_for_event("close")
    expect(page.get_by_test_id("connect-error")).to_contain_text(
        "publishes no OAuth protected-resource metadata")
    expect(page.get_by_test_id("instance-state")).to_have_attribute("data-state",
                                                                   "not connected")
