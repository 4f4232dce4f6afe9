"""The MCP registry and instances of the real companion: CRUD and its conflicts, secrets that
are never shown nor logged, slugs, write-only credentials, and what the proxy does with bad
input and with a server that is down."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
import anyio
import httpx

from tests.integration.mcp_api import (
    INITIALIZE,
    MCP_HEADERS,
    WAIT_SECS,
    Bodhi,
    bearer,
    error_of,
    sdk_session,
)
from tests.mcp_servers import ROOT, serving

CLIENT_SECRET = "client-s3cret-never-shown"
ENV_SECRET = "env-s3cret-never-shown"
KEY_SECRET = "key-s3cret-never-shown"
MAX_BODY = 10 * 1024 * 1024


def _servers(bodhi: Bodhi) -> str:
    return bodhi.url + "/bodhi/v1/mcps/servers"


def test_server_crud_and_a_duplicate_url(bodhi: Bodhi, tools: str) -> None:
    made = bodhi.server("crud", tools + "?crud", description="for CRUD")
    assert (made["kind"], made["enabled"], made["auth_config"]["type"]) == \
        ("remote", True, "none")
    shown = bodhi.owner.get(f"{_servers(bodhi)}/{made['id']}").json()
    assert shown == made
    same_url = tools.replace("http://127.0.0.1", "HTTP://127.0.0.1") + "?crud"
    duplicate = bodhi.owner.post(_servers(bodhi), json={"name": "again", "url": same_url})
    assert duplicate.status_code == 409
    assert error_of(duplicate)["code"] == "mcp_server_exists"
    same_name = bodhi.owner.post(_servers(bodhi), json={"name": "crud", "url": tools + "?x"})
    assert same_name.status_code == 409
    edited = bodhi.owner.put(f"{_servers(bodhi)}/{made['id']}", json={
        "name": "crud renamed", "url": made["url"], "enabled": False})
    assert edited.status_code == 200 and edited.json()["enabled"] is False
    assert bodhi.owner.delete(f"{_servers(bodhi)}/{made['id']}").status_code == 204
    assert bodhi.owner.get(f"{_servers(bodhi)}/{made['id']}").status_code == 404
    for bad in ({"name": "both", "url": tools, "command": "x"}, {"name": "neither"},
                {"name": "ftp", "url": "ftp://127.0.0.1/mcp"}):
        assert bodhi.owner.post(_servers(bodhi), json=bad).status_code == 400, bad


def test_writes_need_a_browser_session(bodhi: Bodhi, tools: str) -> None:
    power = bodhi.api_token(scope="scope_token_power_user", mcps="all")
    for body in ({"name": "by token", "url": tools + "?token"},
                 {"name": "stdio by token", "command": sys.executable}):
        refused = httpx.post(_servers(bodhi), json=body, headers=bearer(power))
        assert refused.status_code == 401, refused.text
    names = [s["name"] for s in bodhi.owner.get(_servers(bodhi)).json()["data"]]
    assert "by token" not in names and "stdio by token" not in names


def test_secrets_are_never_shown_nor_logged(bodhi: Bodhi, tools: str) -> None:
    oauth = bodhi.server("secret oauth", tools + "?oauth", auth_config={
        "type": "oauth", "client_id": "cid", "client_secret": CLIENT_SECRET})
    stdio = bodhi.server("secret stdio", command=sys.executable,
                         args=["-m", "tests.mcp_servers.tools", "--stdio"],
                         env={"TOOLS_API_KEY": ENV_SECRET}, cwd=str(ROOT))
    keyed = bodhi.server("secret keyed", tools + "?keyed",
                         auth_config={"type": "header", "keys": ["X-Api-Key"]})
    instance = bodhi.instance(keyed["id"], "secret-keyed",
                              credentials={"X-Api-Key": KEY_SECRET})
    assert oauth["auth_config"]["client_id"] == "cid"
    assert "client_secret" not in oauth["auth_config"]
    assert stdio["env_keys"] == ["TOOLS_API_KEY"] and "env" not in stdio
    assert instance["credential_keys"] == ["X-Api-Key"]
    # Leave a trace of every use, then look everywhere a secret could show.
    token = bodhi.api_token(mcps=[instance["id"]])
    httpx.post(f"{bodhi.url}/bodhi/v1/mcps/{instance['id']}/mcp", json=INITIALIZE,
               headers={**bearer(token), **MCP_HEADERS}, timeout=WAIT_SECS)
    seen = [json.dumps(x) for x in (oauth, stdio, instance)] + [
        bodhi.owner.get(bodhi.url + path).text for path in (
            "/bodhi/v1/mcps/servers", f"/bodhi/v1/mcps/servers/{oauth['id']}",
            f"/bodhi/v1/mcps/servers/{stdio['id']}", "/bodhi/v1/mcps",
            f"/bodhi/v1/mcps/{instance['id']}")]
    logs = bodhi.logs()
    assert "/bodhi/v1/mcps" in logs     # the requests were logged, without the secrets
    for secret in (CLIENT_SECRET, ENV_SECRET, KEY_SECRET):
        assert all(secret not in text for text in seen), secret
        assert secret not in logs, secret


def test_slugs_and_write_only_credentials(bodhi: Bodhi, tools: str) -> None:
    server = bodhi.server("slugged", tools + "?slugged",
                          auth_config={"type": "query", "keys": ["api_key", "extra"]})
    instances = bodhi.url + "/bodhi/v1/mcps"
    for slug in ("has space", "under_score", "x" * 25, ""):
        bad = bodhi.owner.post(instances, json={"server_id": server["id"], "name": "n",
                                                "slug": slug})
        assert bad.status_code == 400, slug
    made = bodhi.instance(server["id"], "Slug-1", credentials={"api_key": KEY_SECRET})
    again = bodhi.owner.post(instances, json={"server_id": server["id"], "name": "n",
                                              "slug": "Slug-1"})
    assert again.status_code == 409 and error_of(again)["code"] == "mcp_slug_taken"
    other = bodhi.instance(server["id"], "slug-2")
    renamed = bodhi.owner.put(f"{instances}/{other['id']}", json={"slug": "Slug-1"})
    assert renamed.status_code == 409
    unknown = bodhi.owner.put(f"{instances}/{made['id']}", json={"credentials": {"nope": "v"}})
    assert unknown.status_code == 400
    assert error_of(unknown)["code"] == "invalid_mcp_credentials"
    both = bodhi.owner.put(f"{instances}/{made['id']}", json={"credentials": {"extra": "v"}})
    assert both.json()["credential_keys"] == ["api_key", "extra"]
    removed = bodhi.owner.put(f"{instances}/{made['id']}",
                              json={"credentials": {"api_key": None}})
    assert removed.json()["credential_keys"] == ["extra"]
    assert KEY_SECRET not in bodhi.owner.get(instances).text


def _post(bodhi: Bodhi, instance: str, token: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{bodhi.url}/bodhi/v1/mcps/{instance}/mcp", content=content,
                      headers={**bearer(token), **MCP_HEADERS}, timeout=WAIT_SECS)


def _still_serving(bodhi: Bodhi, instance: str, token: str) -> None:
    assert _post(bodhi, instance, token, json.dumps(INITIALIZE).encode()).status_code == 200


def test_bad_input(bodhi: Bodhi, tools: str) -> None:
    instance = bodhi.connect("bad-input", tools + "?bad-input")
    token = bodhi.api_token(mcps=[instance])
    # Valid JSON that is not JSON-RPC goes to the server, whose own answer comes back.
    not_rpc = b'{"hello": "world"}'
    direct = httpx.post(tools + "?bad-input", content=not_rpc, headers=MCP_HEADERS)
    relayed = _post(bodhi, instance, token, not_rpc)
    assert relayed.status_code == direct.status_code == 400
    assert relayed.json() == direct.json() and "jsonrpc" in relayed.json()
    _still_serving(bodhi, instance, token)

    not_json = _post(bodhi, instance, token, b"this is not json")
    assert not_json.status_code == 400
    assert error_of(not_json)["code"] == "invalid_mcp_message"
    _still_serving(bodhi, instance, token)

    # Strict JSON: the proxy and the server must read the same message (a tool name given
    # twice could pass the allow-list as one tool and run as the other).
    call = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": '
    for bad in (call + b'{"name": "add", "name": "echo", "arguments": {}}}',
                call + b'{"name": "add", "arguments": {"a": NaN, "b": 1e999999}}}',
                call + b'{"name": "add", "arguments": {"a": 36893488147419103232}}}',
                call + b"[" * 30000 + b"]" * 30000 + b"}", call + b'{"name": "\xff"}}',
                call + b'{"name": "ad'):
        refused = _post(bodhi, instance, token, bad)
        assert refused.status_code == 400, (bad[:80], refused.text)
        assert error_of(refused)["code"] == "invalid_mcp_message"
    assert "Traceback" not in bodhi.logs()
    _still_serving(bodhi, instance, token)

    too_big = _post(bodhi, instance, token, b" " * (MAX_BODY + 1))
    assert too_big.status_code == 413, too_big.text
    assert error_of(too_big)["message"]
    _still_serving(bodhi, instance, token)


def test_a_server_that_is_down(bodhi: Bodhi) -> None:
    with serving("tools") as gone:
        pass
    instance = bodhi.connect("gone", gone + "/mcp")
    token = bodhi.api_token(mcps=[instance])
    down = _post(bodhi, instance, token, json.dumps(INITIALIZE).encode())
    assert down.status_code == 502
    assert error_of(down)["code"] == "mcp_upstream_unreachable"
    assert "'gone'" in error_of(down)["message"]


async def test_an_oauth_instance_logs_in_and_refreshes(bodhi: Bodhi) -> None:
    with serving("oauth_server", "--token-secs", "2") as url:
        instance = await asyncio.to_thread(bodhi.connect, "oauth", url + "/mcp", type="oauth")
        token = await asyncio.to_thread(bodhi.api_token, mcps=[instance])
        shown = await asyncio.to_thread(bodhi.owner.get, f"{bodhi.url}/bodhi/v1/mcps/{instance}")
        assert shown.json()["auth_status"] == "needs_login"
        mcp_url = f"{bodhi.url}/bodhi/v1/mcps/{instance}/mcp"
        async with httpx.AsyncClient(timeout=WAIT_SECS) as http:
            early = await http.post(mcp_url, json=INITIALIZE,
                                    headers={**bearer(token), **MCP_HEADERS})
        assert early.status_code == 409 and error_of(early)["code"] == "mcp_needs_login"
        assert "/oauth/login" in error_of(early)["message"]
        assert await asyncio.to_thread(_log_in, bodhi, instance) == "ready"
        async with sdk_session(mcp_url, token) as session:
            with anyio.fail_after(WAIT_SECS):
                first = await session.call_tool("add", {"a": 2, "b": 3})
            assert first.structured_content == {"result": 5}
            await anyio.sleep(2.5)   # the access token expired: the next call refreshes it
            with anyio.fail_after(WAIT_SECS):
                second = await session.call_tool("add", {"a": 1, "b": 1})
            assert second.structured_content == {"result": 2}


def _log_in(bodhi: Bodhi, instance: str) -> str:
    """The owner's browser: start the login, the authorization server approves at once and
    sends the browser back to the companion's callback, with the state cookie."""
    started = bodhi.owner.post(f"{bodhi.url}/bodhi/v1/mcps/{instance}/oauth/login")
    assert started.status_code == 200, started.text
    approved = bodhi.owner.get(started.json()["authorize_url"])
    assert approved.status_code == 302, approved.text
    back = approved.headers["location"]
    assert back.startswith(bodhi.url + "/bodhi/v1/mcps/oauth/callback?")
    landed = bodhi.owner.get(back)
    assert landed.status_code == 200 and "is ready" in landed.text, landed.text
    status: str = bodhi.owner.get(f"{bodhi.url}/bodhi/v1/mcps/{instance}").json()["auth_status"]
    return status


def test_bodhi_mcp_login_signs_the_owner_in_and_logs_the_instance_in(bodhi: Bodhi) -> None:
    """From a terminal: the link signs the owner in, continues to the server's login, and
    the browser comes back connected."""
    with serving("oauth_server") as url:
        instance = bodhi.connect("oauth-cli", url + "/mcp", type="oauth")
        link = bodhi.companion.cli("mcp", "login", "oauth-cli", "--no-browser").strip()
        with httpx.Client(timeout=WAIT_SECS) as browser:
            signed_in = browser.get(link)
            assert signed_in.status_code == 200
            assert f"/bodhi/v1/mcps/{instance}/oauth/login" in signed_in.text
            started = browser.get(f"{bodhi.url}/bodhi/v1/mcps/{instance}/oauth/login")
            assert started.status_code == 302, started.text
            approved = browser.get(started.headers["location"])
            landed = browser.get(approved.headers["location"])
            assert landed.status_code == 200 and "is ready" in landed.text, landed.text
        shown = bodhi.owner.get(f"{bodhi.url}/bodhi/v1/mcps/{instance}").json()
        assert shown["auth_status"] == "ready"


def test_an_owner_link_continues_only_to_this_server(bodhi: Bodhi) -> None:
    ticket_link = bodhi.companion.cli("open", "--no-browser").strip().splitlines()[-1]
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        refused = httpx.get(ticket_link, params={"next": elsewhere}, timeout=WAIT_SECS)
        assert refused.status_code == 400, elsewhere
    # The refusals did not use the one-time link up.
    assert httpx.get(ticket_link, timeout=WAIT_SECS).status_code == 200


async def _changes(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    while len(seen) < count:
        message = await ws.receive_json()
        if message["type"] == "mcp.changed":
            data = message["data"]
            seen.append((data["what"], data["action"], data["id"]))
    return seen


async def test_changes_are_announced_on_the_events_socket(bodhi: Bodhi, tools: str) -> None:
    """What the web UI's MCP page listens to: servers' and the user's instances' changes."""
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(bodhi.url + "/bodhi/v1/events") as ws:
        await ws.send_json({"type": "auth", "token": bodhi.credential})
        async with asyncio.timeout(WAIT_SECS):
            assert (await ws.receive_json())["type"] == "hello"
            server = await asyncio.to_thread(bodhi.server, "announced", tools + "?announced")
            instance = (await asyncio.to_thread(bodhi.instance, server["id"], "announced"))["id"]
            allowed = await asyncio.to_thread(
                bodhi.owner.put, f"{bodhi.url}/bodhi/v1/mcps/{instance}/tools",
                json={"allowed_tools": ["echo"]})
            assert allowed.status_code == 200, allowed.text
            for path in (f"/bodhi/v1/mcps/{instance}", f"/bodhi/v1/mcps/servers/{server['id']}"):
                gone = await asyncio.to_thread(bodhi.owner.delete, bodhi.url + path)
                assert gone.status_code == 204, gone.text
            assert await _changes(ws, 5) == [
                ("server", "created", server["id"]), ("instance", "created", instance),
                ("instance", "updated", instance), ("instance", "deleted", instance),
                ("server", "deleted", server["id"])]
