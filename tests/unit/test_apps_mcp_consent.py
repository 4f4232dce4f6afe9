"""Consent for MCP: an app asks for servers, the user binds their instances, the grant and
the app's token carry exactly those (tier a: the real routes and services, no upstream)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from companion.auth.principal import OWNER_USER_ID
from companion.mcp.instances import InstanceBody
from companion.mcp.servers import ServerBody
from tests.unit.apps_harness import OWNER_SESSION, Harness, bearer, harness

__all__ = ["harness"]

TOOLS_URL = "http://127.0.0.1:9/mcp"
REDIRECT = "http://127.0.0.1:9876/callback"


async def _instance(harness: Harness, server_name: str, url: str, slug: str,
                    enabled: bool = True) -> str:
    mcps = harness.mcps
    found = await mcps.servers.find(name=server_name)
    server = found or await mcps.servers.create(ServerBody(name=server_name, url=url))
    made = await mcps.instances.create(OWNER_USER_ID, InstanceBody(
        server_id=server.id, name=f"My {server_name}", slug=slug, enabled=enabled))
    return made.id


async def _review(harness: Harness, request_id: str) -> dict[str, Any]:
    resp = await harness.client.get(f"/bodhi/v1/apps/access-requests/{request_id}/review",
                                    headers=harness.ext)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_the_review_offers_the_users_instances_per_server(harness: Harness) -> None:
    tools = await _instance(harness, "tools", TOOLS_URL, "tools")
    await _instance(harness, "tools", TOOLS_URL, "tools-off", enabled=False)
    opened = await harness.open_request(scopes=["chat", "mcp"], mcps=[
        {"url": TOOLS_URL}, {"name": "nowhere"}])
    review = await _review(harness, opened["id"])
    by_url, missing = review["mcps"]
    assert by_url["requested"] == {"url": TOOLS_URL}
    assert by_url["server"]["name"] == "tools"
    assert [i["id"] for i in by_url["instances"]] == [tools]  # the disabled one is not offered
    assert missing == {"requested": {"name": "nowhere"}, "server": None, "instances": []}


async def test_the_grant_and_the_token_carry_the_bound_instance(harness: Harness) -> None:
    tools = await _instance(harness, "tools", TOOLS_URL, "tools")
    other = await _instance(harness, "other", "http://127.0.0.1:9/other", "other")
    opened = await harness.open_request(scopes=["chat", "mcp"], mcps=[{"name": "tools"}])
    await harness.approve(opened["id"], scopes=["chat", "mcp"], mcps=[tools])
    issued = await harness.tokens_for(opened["id"])
    app = bearer(issued["access_token"])
    listed = await harness.client.get("/bodhi/v1/apps/mcps", headers=app)
    assert [i["id"] for i in (await listed.json())["data"]] == [tools]
    # Another instance of the user's is not the app's: it does not exist for the app.
    refused = await harness.client.post(f"/bodhi/v1/apps/mcps/{other}/call", headers=app,
                                        json={"method": "tools/list"})
    assert refused.status == 404
    grants = await harness.client.get("/bodhi/v1/apps/grants", headers=harness.ext)
    (grant,) = (await grants.json())["data"]
    assert grant["mcps"] == [{"id": tools, "name": "My tools", "slug": "tools",
                              "server": "tools"}]


async def test_without_the_mcp_scope_the_bound_instances_give_nothing(harness: Harness
                                                                      ) -> None:
    tools = await _instance(harness, "tools", TOOLS_URL, "tools")
    opened = await harness.open_request(scopes=["chat", "mcp"], mcps=[{"name": "tools"}])
    resp = await harness.client.post(
        f"/bodhi/v1/apps/access-requests/{opened['id']}/approve", headers=harness.ext,
        json={"scopes": ["chat"], "mcps": [tools]})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_mcp_binding"


@pytest.mark.parametrize("case", ["other server", "unknown id", "two for one server"])
async def test_a_binding_the_app_did_not_ask_for_is_refused(harness: Harness,
                                                            case: str) -> None:
    tools = await _instance(harness, "tools", TOOLS_URL, "tools")
    second = await _instance(harness, "tools", TOOLS_URL, "tools-2")
    other = await _instance(harness, "other", "http://127.0.0.1:9/other", "other")
    ids = {"other server": [other], "unknown id": ["nope"],
           "two for one server": [tools, second]}[case]
    opened = await harness.open_request(scopes=["chat", "mcp"], mcps=[{"name": "tools"}])
    resp = await harness.client.post(
        f"/bodhi/v1/apps/access-requests/{opened['id']}/approve", headers=harness.ext,
        json={"scopes": ["chat", "mcp"], "mcps": ids})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"]["code"] == "invalid_mcp_binding"


@pytest.mark.parametrize("requested", [
    {"scopes": ["chat"], "mcps": [{"name": "tools"}]},          # no mcp scope
    {"scopes": ["mcp"], "mcps": [{"url": TOOLS_URL, "name": "tools"}]},
    {"scopes": ["mcp"], "mcps": [{"path": "/x"}]},
    {"scopes": ["mcp"], "mcps": [{"name": f"s{n}"} for n in range(11)]},
])
async def test_malformed_mcp_asks_are_refused(harness: Harness,
                                              requested: dict[str, Any]) -> None:
    resp = await harness.client.post("/bodhi/v1/apps/request-access", headers=harness.ext,
                                     json={"origin": "http://127.0.0.1:8001",
                                           "requested": requested})
    assert resp.status == 400, await resp.text()


async def test_a_remembered_grant_covers_only_the_servers_it_binds(harness: Harness) -> None:
    tools = await _instance(harness, "tools", TOOLS_URL, "tools")
    await _instance(harness, "other", "http://127.0.0.1:9/other", "other")
    opened = await harness.open_request(scopes=["chat", "mcp"], mcps=[{"name": "tools"}])
    await harness.approve(opened["id"], scopes=["chat", "mcp"], mcps=[tools], remember=True)
    again = await harness.open_request(scopes=["chat", "mcp"], mcps=[{"name": "tools"}])
    assert again.get("status") == "approved", again
    more = await harness.open_request(scopes=["chat", "mcp"], mcps=[{"name": "other"}])
    assert more.get("status") == "draft", more


async def test_an_oauth_app_binds_instances_on_the_consent_page(harness: Harness) -> None:
    tools = await _instance(harness, "tools", TOOLS_URL, "tools")
    client = await harness.apps.oauth.register("Notes", [REDIRECT])
    verifier = "v" * 64
    page = await harness.client.get("/oauth/authorize", headers=OWNER_SESSION, params=[
        ("client_id", client.client_id), ("redirect_uri", REDIRECT), ("response_type", "code"),
        ("scope", "chat mcp"), ("state", "s"), ("code_challenge_method", "S256"),
        ("code_challenge", create_s256_code_challenge(verifier)),
        ("mcp", TOOLS_URL), ("mcp", "nowhere")])
    text = await page.text()
    assert page.status == 200, text
    assert f'<option value="{tools}">My tools (tools)</option>' in text
    assert "no server is registered for it" in text
    match = re.search(r'name="request_id" value="([^"]+)"', text)
    assert match is not None
    done = await harness.client.post("/oauth/authorize", headers=OWNER_SESSION,
                                     allow_redirects=False, data=[
        ("request_id", match.group(1)), ("decision", "allow"), ("scope", "chat"),
        ("scope", "mcp"), ("all_models", "1"), ("mcp", tools)])
    assert done.status == 302, await done.text()
    grant = (await harness.apps.grants.page(OWNER_USER_ID, 1, 10))[0][0]
    assert grant.mcps == (tools,)
