"""MCP through the extension, end to end: a real MCP server (built with the mcp SDK) on
loopback, registered in the companion by the owner; a page asks for chat and that server, the
user binds their connection in the consent window; the page lists and calls tools through
window.bodhi.mcp and through the official MCP TypeScript SDK's Client over
window.bodhi.mcp.transport(); abort and timeouts; the popup shows the grant's MCP connection
and revoking it ends MCP access at the next call.

With E2E_SCREENSHOTS=<folder> it saves the consent window and the popup as they appear here
(extension-consent.png, extension-popup.png; docs/images holds the ones the docs show).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from e2e.conftest import (
    Browser,
    PageServer,
    access_outcome,
    add_mcp_server,
    ask_access,
    owner_session,
)
from e2e.mcp_sdk import ensure_bundle
from tests.conftest import Companion
from tests.mcp_servers import serving

UNKNOWN_URL = "http://127.0.0.1:9/mcp"
SHOTS = os.environ.get("E2E_SCREENSHOTS")


def screenshot(page: Page, name: str, width: int, height: int) -> None:
    if SHOTS:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with serving("tools") as base:
        yield base + "/mcp"


@pytest.fixture(scope="module")
def registered(companion: Companion, mcp_url: str) -> dict[str, Any]:
    """The tools server with the owner's connection `tools-e2e`, and a second server to which
    the owner has no connection yet."""
    with owner_session(companion) as owner:
        made = add_mcp_server(owner, "test-tools", mcp_url, instance="tools-e2e")
        add_mcp_server(owner, "unconnected", mcp_url.replace("/mcp", "/other"))
    return made


@pytest.fixture(scope="module")
def site(paired: Browser) -> Iterator[Page]:
    server = PageServer()
    page = paired.open(server.origin)
    yield page
    page.close()
    server.close()


@pytest.fixture(scope="module")
def granted(paired: Browser, site: Page, registered: dict[str, Any], mcp_url: str) -> str:
    """Chat plus the tools server, allowed once with the preselected connection; the id of the
    bound instance."""
    consent = ask_access(paired, site, {"scopes": ["chat", "mcp"], "reason": "Use my tools",
                                        "mcps": [{"url": mcp_url}, {"url": UNKNOWN_URL},
                                                 {"name": "unconnected"}]})
    entries = consent.get_by_test_id("consent-mcp")
    assert entries.count() == 3
    select = entries.nth(0).get_by_test_id("consent-mcp-select")
    assert select.input_value() == registered["instance"]["id"]
    assert "tools-e2e" in select.locator("option:checked").inner_text()
    assert entries.nth(1).get_by_test_id("consent-mcp-missing").inner_text().startswith(
        f"No server registered for {UNKNOWN_URL}")
    assert "no connection to unconnected yet" in entries.nth(2).get_by_test_id(
        "consent-mcp-missing").inner_text()
    assert consent.get_by_test_id("scope-mcp").is_checked()
    consent.wait_for_selector("body[data-armed=true]")
    screenshot(consent, "extension-consent.png", 420, 860)

    consent.get_by_test_id("consent-allow-once").click()

    outcome = access_outcome(site)
    assert outcome["result"]["granted"] is True, outcome
    assert sorted(outcome["result"]["scopes"]) == ["chat", "mcp"]
    instance_id: str = registered["instance"]["id"]
    return instance_id


def test_bad_mcp_requests_are_refused_before_the_companion(site: Page) -> None:
    codes = site.evaluate("""async () => {
        const asks = {
            ftp: {scopes: ['chat', 'mcp'], mcps: [{url: 'ftp://example.test/mcp'}]},
            both: {scopes: ['chat', 'mcp'], mcps: [{url: 'http://a.test/mcp', name: 'a'}]},
            noScope: {scopes: ['chat'], mcps: [{name: 'test-tools'}]},
            notList: {scopes: ['mcp'], mcps: {name: 'test-tools'}},
        };
        const out = {};
        for (const [name, params] of Object.entries(asks)) {
            out[name] = await window.bodhi.requestAccess(params).then(
                () => 'granted', (e) => [e.code, e.status]);
        }
        return out;
    }""")

    assert codes == {name: ["api_error", 400] for name in ("ftp", "both", "noScope", "notList")}


def test_list_tools_and_call_a_tool(site: Page, granted: str) -> None:
    result = site.evaluate("""async (id) => {
        const mcp = window.bodhi.mcp;
        return {
            list: await mcp.list(),
            tools: (await mcp.listTools(id)).tools.map((t) => t.name).sort(),
            sum: await mcp.callTool(id, 'add', {a: 2, b: 3}),
            resources: (await mcp.listResources(id)).resources.map((r) => r.uri),
            templates: (await mcp.listResourceTemplates(id)).resourceTemplates,
            greeting: (await mcp.readResource(id, 'test://greeting')).contents[0].text,
            prompts: (await mcp.listPrompts(id)).prompts.map((p) => p.name),
            prompt: (await mcp.getPrompt(id, 'review', {code: 'x = 1'})).messages[0],
        };
    }""", granted)

    [instance] = result["list"]
    assert instance["id"] == granted and instance["slug"] == "tools-e2e"
    assert instance["server"]["name"] == "test-tools"
    assert {"add", "count", "echo", "whoami"} <= set(result["tools"])
    assert result["sum"]["isError"] is False
    assert result["sum"]["content"][0]["text"] == "5"
    assert result["resources"] == ["test://greeting"]
    assert result["templates"] == []
    assert result["greeting"] == "hello from the test server"
    assert result["prompts"] == ["review"]
    assert "x = 1" in result["prompt"]["content"]["text"]


def test_the_mcp_sdk_client_over_the_extension_transport(site: Page, granted: str) -> None:
    ensure_bundle()

    result = site.evaluate("""async (id) => {
        const { Client } = await import('/vendor/mcp-sdk.js');
        const client = new Client({name: 'bodhi-e2e', version: '1.0.0'});
        const transport = window.bodhi.mcp.transport(id);
        await client.connect(transport);
        const out = {
            session: typeof transport.sessionId,
            server: client.getServerVersion().name,
            tools: (await client.listTools()).tools.map((t) => t.name).sort(),
            sum: await client.callTool({name: 'add', arguments: {a: 2, b: 3}}),
            echo: await client.callTool({name: 'echo', arguments: {text: 'through bodhi'}}),
        };
        await client.close();
        return out;
    }""", granted)

    assert result["server"] == "bodhi-test-tools"
    assert result["session"] == "string"
    assert {"add", "echo"} <= set(result["tools"])
    assert result["sum"]["content"][0]["text"] == "5"
    assert result["echo"]["content"][0]["text"] == "through bodhi"


def test_abort_and_timeout_end_a_tool_call(site: Page, granted: str) -> None:
    codes = site.evaluate("""async (id) => {
        const mcp = window.bodhi.mcp;
        const aborter = new AbortController();
        setTimeout(() => aborter.abort(), 300);
        const aborted = await mcp.callTool(id, 'count', {n: 200}, {signal: aborter.signal})
            .then(() => 'finished', (e) => e.code);
        const timedOut = await mcp.callTool(id, 'count', {n: 200}, {timeout: 300})
            .then(() => 'finished', (e) => e.code);
        const unknown = await mcp.callTool('no-such-instance', 'add', {a: 1, b: 1})
            .then(() => 'finished', (e) => [e.code, e.status]);
        return {aborted, timedOut, unknown};
    }""", granted)

    assert codes == {"aborted": "aborted", "timedOut": "timeout",
                     "unknown": ["api_error", 404]}


def test_revoke_in_the_popup_ends_mcp_access(paired: Browser, site: Page, granted: str) -> None:
    origin = site.evaluate("location.origin")
    popup = paired.popup()
    grant = popup.locator(f"[data-testid=grant][data-origin='{origin}']")
    assert grant.get_by_test_id("grant-mcps").inner_text() == "MCP: tools-e2e (test-tools)"
    screenshot(popup, "extension-popup.png", 388, 585)

    grant.get_by_test_id("grant-revoke").click()

    grant.wait_for(state="detached")
    popup.close()
    codes = site.evaluate("""async (id) => {
        const mcp = window.bodhi.mcp;
        const transport = mcp.transport(id);
        await transport.start();
        return {
            call: await mcp.callTool(id, 'add', {a: 2, b: 3}).then(() => 'ok', (e) => e.code),
            list: await mcp.list().then(() => 'ok', (e) => e.code),
            send: await transport.send({jsonrpc: '2.0', id: 1, method: 'tools/list'})
                .then(() => 'ok', (e) => e.code),
        };
    }""", granted)

    assert codes == {"call": "not_granted", "list": "not_granted", "send": "not_granted"}
