"""MCP servers and instances with two people (OIDC mode, a real provider): only an admin
registers servers, remote or stdio; each user has their own instances and slugs, and cannot
see or use another's."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Companion, running_companion
from tests.integration.mcp_api import INITIALIZE, MCP_HEADERS, WAIT_SECS, bearer, error_of
from tests.integration.oidc_provider import running_provider, sign_in
from tests.mcp_servers import serving


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    root = tmp_path_factory.mktemp("mcp-team")
    with running_provider(root / "provider.log") as provider:
        companion = Companion(root)
        companion.cli("setup", "--mode", "oidc", "--name", "Team", "--issuer", provider.url,
                      "--client-id", "bodhi-mcp-test", "--client-secret", "unused", "--yes")
        with running_companion(root) as running:
            yield running


@pytest.fixture(scope="module")
def people(team: Companion) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Alice (the first user: admin) and Bob, approved as a plain user."""
    with httpx.Client(timeout=WAIT_SECS) as alice, httpx.Client(timeout=WAIT_SECS) as bob:
        assert sign_in(alice, team.url, "alice@example.com")["role"] == "resource_admin"
        sign_in(bob, team.url, "bob@example.com")
        assert bob.post(team.url + "/bodhi/v1/user/request-access").status_code == 201
        pending = alice.get(team.url + "/bodhi/v1/access-requests/pending").json()["data"]
        request_id = next(r["id"] for r in pending if r["username"] == "bob@example.com")
        approved = alice.post(f"{team.url}/bodhi/v1/access-requests/{request_id}/approve",
                              json={"role": "resource_user"})
        assert approved.status_code == 200, approved.text
        assert bob.get(team.url + "/bodhi/v1/user").json()["role"] == "resource_user"
        yield alice, bob


def test_only_an_admin_registers_servers(team: Companion,
                                         people: tuple[httpx.Client, httpx.Client]) -> None:
    alice, bob = people
    servers = team.url + "/bodhi/v1/mcps/servers"
    stdio = {"name": "local", "command": sys.executable, "args": ["-m", "this"]}
    for body in ({"name": "remote", "url": "http://127.0.0.1:9/mcp"}, stdio):
        refused = bob.post(servers, json=body)
        assert refused.status_code == 403, refused.text
        assert error_of(refused)["code"] == "auth_error-insufficient_role"
    made = alice.post(servers, json=stdio)
    assert made.status_code == 201, made.text
    server_id = made.json()["id"]
    assert bob.get(servers).json()["data"][0]["id"] == server_id   # users read the registry
    assert bob.put(f"{servers}/{server_id}", json={**stdio, "args": []}).status_code == 403
    assert bob.delete(f"{servers}/{server_id}").status_code == 403
    assert alice.delete(f"{servers}/{server_id}").status_code == 204


def test_instances_are_each_users_own(team: Companion,
                                      people: tuple[httpx.Client, httpx.Client]) -> None:
    alice, bob = people
    with serving("tools") as url:
        made = alice.post(team.url + "/bodhi/v1/mcps/servers",
                          json={"name": "shared tools", "url": url + "/mcp"})
        assert made.status_code == 201, made.text
        body = {"server_id": made.json()["id"], "name": "mine", "slug": "tools"}
        hers = alice.post(team.url + "/bodhi/v1/mcps", json=body)
        his = bob.post(team.url + "/bodhi/v1/mcps", json=body)   # the same slug: per user
        assert hers.status_code == his.status_code == 201, his.text
        assert bob.post(team.url + "/bodhi/v1/mcps", json=body).status_code == 409
        assert [i["id"] for i in bob.get(team.url + "/bodhi/v1/mcps").json()["data"]] == \
            [his.json()["id"]]
        assert bob.get(f"{team.url}/bodhi/v1/mcps/{hers.json()['id']}").status_code == 404
        token = bob.post(team.url + "/bodhi/v1/tokens", json={"name": "b", "mcps": "all"})
        assert token.status_code == 201, token.text
        for instance, status in ((his.json()["id"], 200), (hers.json()["id"], 404)):
            reply = httpx.post(f"{team.url}/bodhi/v1/mcps/{instance}/mcp", json=INITIALIZE,
                               headers={**bearer(token.json()["token"]), **MCP_HEADERS},
                               timeout=WAIT_SECS)
            assert reply.status_code == status, reply.text
