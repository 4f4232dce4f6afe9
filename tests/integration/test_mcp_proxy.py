"""The MCP proxy of the real companion, used by the MCP SDK's own Streamable HTTP client on
both paths (a user's API token, an app's token): initialize, tools, streamed replies, the
session id and its end, keyed servers, refusals, the allow-list, the apps' list and calls."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import httpx
import pytest
from mcp import MCPError

from tests.integration.mcp_api import (
    INITIALIZE,
    MCP_HEADERS,
    WAIT_SECS,
    Bodhi,
    Seen,
    bearer,
    error_of,
    sdk_session,
)
from tests.integration.mcp_stdio import call_text
from tests.mcp_servers import serving

KEY = "k3y-value-never-shown"


@pytest.fixture(scope="module")
def public(bodhi: Bodhi, tools: str) -> str:
    """An instance of the public tools server."""
    return bodhi.connect("tools", tools)


def _user_path(bodhi: Bodhi, instance: str) -> str:
    return f"{bodhi.url}/bodhi/v1/mcps/{instance}/mcp"


def _app_path(bodhi: Bodhi, instance: str) -> str:
    return f"{bodhi.url}/bodhi/v1/apps/mcps/{instance}/mcp"


@pytest.fixture(scope="module", params=["api-token", "app-token"])
def path_and_token(request: pytest.FixtureRequest, bodhi: Bodhi, tools: str,
                   public: str) -> tuple[str, str]:
    if request.param == "api-token":
        return _user_path(bodhi, public), bodhi.api_token(mcps=[public])
    tokens = bodhi.grant([{"url": tools}], [public])
    return _app_path(bodhi, public), tokens["access_token"]


async def test_the_sdk_client_works_through_the_proxy(path_and_token: tuple[str, str]) -> None:
    url, token = path_and_token
    seen = Seen()
    async with sdk_session(url, token, seen) as session:
        with anyio.fail_after(WAIT_SECS):
            listed = await session.list_tools()
        assert {"echo", "add", "count", "whoami", "crash"} <= {t.name for t in listed.tools}
        with anyio.fail_after(WAIT_SECS):
            added = await session.call_tool("add", {"a": 2, "b": 3})
        assert added.structured_content == {"result": 5}
        assert await call_text(session, "count", n=3) == "counted to 3"
    # Every reply was streamed (the server answers with server-sent events) and carried the
    # one session id the server gave.
    answers = seen.answers()
    assert len(answers) == 4 and all(c.startswith("text/event-stream") for c in answers)
    [session_id] = seen.session_ids()
    # Leaving the session sent DELETE through the proxy; the server forgot the session.
    assert [s for m, s, _ in seen.replies if m == "DELETE"] == [200]
    async with httpx.AsyncClient(timeout=WAIT_SECS) as http:
        gone = await http.post(url, headers={**bearer(token), **MCP_HEADERS,
                                             "Mcp-Session-Id": session_id},
                               json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "Session not found", gone.text


def test_a_raw_initialize_is_streamed_back(bodhi: Bodhi, public: str) -> None:
    token = bodhi.api_token(mcps="all")
    with httpx.stream("POST", _user_path(bodhi, public), json=INITIALIZE, timeout=WAIT_SECS,
                      headers={**bearer(token), **MCP_HEADERS}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert reply.headers["mcp-session-id"]
        assert "bodhi-test-tools" in reply.read().decode()


@pytest.mark.parametrize(("option", "auth"), [
    ("--header-key", {"type": "header", "keys": ["X-Api-Key"]}),
    ("--query-key", {"type": "query", "keys": ["api_key"]}),
])
async def test_keyed_servers(bodhi: Bodhi, option: str, auth: dict[str, Any]) -> None:
    key = auth["keys"][0]
    with serving("tools", option, f"{key}={KEY}") as url:
        server = bodhi.server(f"keyed {auth['type']}", url + "/mcp", auth_config=auth)
        right = bodhi.instance(server["id"], f"right-{auth['type']}", credentials={key: KEY})
        wrong = bodhi.instance(server["id"], f"wrong-{auth['type']}",
                               credentials={key: "not-it"})
        missing = bodhi.instance(server["id"], f"none-{auth['type']}")
        token = bodhi.api_token(mcps="all")
        async with sdk_session(_user_path(bodhi, right["id"]), token) as session:
            assert await call_text(session, "echo", text="hi") == "hi"
        # The tools view calls the server with the SDK's own client (httpx2), not the proxy's.
        viewed = await asyncio.to_thread(
            bodhi.owner.get, f"{bodhi.url}/bodhi/v1/mcps/{right['id']}/tools?refresh=1")
        assert viewed.status_code == 200 and "echo" in viewed.text
        refused = _initialize(bodhi, wrong["id"], token)
        assert refused.status_code == 502
        assert error_of(refused)["code"] == "mcp_upstream_auth"
        assert f"'keyed {auth['type']}'" in error_of(refused)["message"]
        unset = _initialize(bodhi, missing["id"], token)
        assert unset.status_code == 409 and error_of(unset)["code"] == "mcp_credentials_missing"
        assert key in error_of(unset)["message"]
        assert f"'keyed {auth['type']}'" in error_of(unset)["message"]
        for reply in (refused, unset):
            assert KEY not in reply.text and "not-it" not in reply.text
    assert KEY not in bodhi.logs() and "not-it" not in bodhi.logs()


def _initialize(bodhi: Bodhi, instance: str, token: str, app: bool = False) -> httpx.Response:
    path = _app_path(bodhi, instance) if app else _user_path(bodhi, instance)
    return httpx.post(path, json=INITIALIZE, headers={**bearer(token), **MCP_HEADERS},
                      timeout=WAIT_SECS)


async def test_a_revoked_grant_is_refused_mid_session(bodhi: Bodhi, tools: str,
                                                      public: str) -> None:
    tokens = bodhi.grant([{"url": tools}], [public])
    seen = Seen()
    async with sdk_session(_app_path(bodhi, public), tokens["access_token"], seen) as session:
        assert await call_text(session, "echo", text="before") == "before"
        await asyncio.to_thread(bodhi.revoke, tokens["grant_id"])
        with anyio.fail_after(WAIT_SECS), pytest.raises(MCPError):
            await session.call_tool("echo", {"text": "after"})
        assert [s for m, s, _ in seen.replies if m == "POST"][-1] == 401
    after = await asyncio.to_thread(_initialize, bodhi, public, tokens["access_token"], True)
    assert error_of(after)["code"] == "auth_error-grant_revoked"


def test_disabled_unknown_and_ungranted_instances(bodhi: Bodhi, tools: str) -> None:
    server = bodhi.server("switchable", tools + "?switchable")
    first = bodhi.instance(server["id"], "switch-one")["id"]
    other = bodhi.instance(bodhi.server("other", tools + "?other")["id"], "other")["id"]
    token = bodhi.api_token(mcps=[first])
    owner, base = bodhi.owner, f"{bodhi.url}/bodhi/v1/mcps"
    assert _initialize(bodhi, first, token).status_code == 200

    assert owner.put(f"{base}/{first}", json={"enabled": False}).status_code == 200
    off = _initialize(bodhi, first, token)
    assert off.status_code == 403 and error_of(off)["code"] == "mcp_instance_disabled"
    owner.put(f"{base}/{first}", json={"enabled": True})

    body = {"name": "switchable", "url": server["url"], "enabled": False}
    assert owner.put(f"{base}/servers/{server['id']}", json=body).status_code == 200
    off = _initialize(bodhi, first, token)
    assert off.status_code == 403 and error_of(off)["code"] == "mcp_server_disabled"
    assert "'switchable'" in error_of(off)["message"]
    owner.put(f"{base}/servers/{server['id']}", json={**body, "enabled": True})
    assert _initialize(bodhi, first, token).status_code == 200

    for instance in ("no-such-instance", other):
        missing = _initialize(bodhi, instance, token)
        assert missing.status_code == 404
        assert error_of(missing)["code"] == "mcp_instance_not_found"


def test_api_tokens_carry_instances(bodhi: Bodhi, public: str, tools: str) -> None:
    other = bodhi.connect("second", tools + "?second")
    without = bodhi.api_token()
    for instance in (public, other):
        assert _initialize(bodhi, instance, without).status_code == 404
    every = bodhi.api_token(mcps="all")
    assert [_initialize(bodhi, i, every).status_code for i in (public, other)] == [200, 200]
    one = bodhi.api_token(mcps=[other])
    assert [_initialize(bodhi, i, one).status_code for i in (public, other)] == [404, 200]
    # An API token is not an app token: the apps' path refuses it.
    assert _initialize(bodhi, other, every, app=True).status_code in (401, 403)


async def test_a_tool_outside_the_allow_list(bodhi: Bodhi, tools: str) -> None:
    instance = bodhi.connect("limited", tools + "?limited")
    allowed = bodhi.owner.put(f"{bodhi.url}/bodhi/v1/mcps/{instance}/tools",
                              json={"allowed_tools": ["echo", "add"]})
    assert allowed.status_code == 200, allowed.text
    token = bodhi.api_token(mcps=[instance])
    async with sdk_session(_user_path(bodhi, instance), token) as session:
        with anyio.fail_after(WAIT_SECS):
            listed = await session.list_tools()
        assert sorted(t.name for t in listed.tools) == ["add", "echo"]
        with anyio.fail_after(WAIT_SECS), pytest.raises(MCPError) as refused:
            await session.call_tool("whoami", {})
        assert "'whoami' is not allowed" in refused.value.error.message
        assert await call_text(session, "echo", text="still fine") == "still fine"
    app = bodhi.grant([{"url": tools + "?limited"}], [instance])["access_token"]
    call = await asyncio.to_thread(bodhi.call, instance, app, "tools/call", name="whoami")
    assert call.status_code == 403 and error_of(call)["code"] == "mcp_tool_not_allowed"


def test_apps_list_and_call_only_granted_instances(bodhi: Bodhi, tools: str,
                                                   public: str) -> None:
    bodhi.connect("not-granted", tools + "?not-granted")
    app = bodhi.grant([{"url": tools}], [public])["access_token"]
    listed = httpx.get(f"{bodhi.url}/bodhi/v1/apps/mcps", headers=bearer(app)).json()["data"]
    assert [i["id"] for i in listed] == [public]
    assert listed[0]["mcp_path"] == f"/bodhi/v1/apps/mcps/{public}/mcp"

    def call(method: str, **params: Any) -> dict[str, Any]:
        reply = bodhi.call(public, app, method, **params)
        assert reply.status_code == 200, reply.text
        result: dict[str, Any] = reply.json()["result"]
        return result

    assert "echo" in [t["name"] for t in call("tools/list")["tools"]]
    assert call("tools/call", name="add", arguments={"a": 1, "b": 2})["structuredContent"] == \
        {"result": 3}
    assert [r["uri"] for r in call("resources/list")["resources"]] == ["test://greeting"]
    read = call("resources/read", uri="test://greeting")["contents"]
    assert read[0]["text"] == "hello from the test server"
    assert [p["name"] for p in call("prompts/list")["prompts"]] == ["review"]
    prompt = call("prompts/get", name="review", arguments={"code": "x = 1"})
    assert "x = 1" in prompt["messages"][0]["content"]["text"]
