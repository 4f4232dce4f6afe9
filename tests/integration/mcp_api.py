"""Helpers for the MCP API tests against the real companion: an owner's browser session that
registers servers and creates instances, API tokens and app grants that carry instances, and
the MCP SDK's own Streamable HTTP client pointed at the companion's proxy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import ClientSession

from tests.conftest import Companion, running_companion
from tests.integration.mcp_stdio import CALL_LIMIT_SECS, mcp_session

WAIT_SECS = CALL_LIMIT_SECS
MCP_HEADERS = {"Accept": "application/json, text/event-stream",
               "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "raw-test", "version": "1"}}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Bodhi:
    """A running companion with the owner signed in (an admin) and a paired extension."""

    def __init__(self, companion: Companion, owner: httpx.Client, credential: str) -> None:
        self.companion = companion
        self.url = companion.url
        self.owner = owner
        self.credential = credential

    def server(self, name: str, url: str | None = None, **body: Any) -> dict[str, Any]:
        """Register a server (remote when ``url`` is given) and return it."""
        made = self.owner.post(self.url + "/bodhi/v1/mcps/servers",
                               json={"name": name, "url": url, **body})
        assert made.status_code == 201, made.text
        shown: dict[str, Any] = made.json()
        return shown

    def instance(self, server_id: str, slug: str, **body: Any) -> dict[str, Any]:
        made = self.owner.post(self.url + "/bodhi/v1/mcps", json={
            "server_id": server_id, "name": slug, "slug": slug, **body})
        assert made.status_code == 201, made.text
        shown: dict[str, Any] = made.json()
        return shown

    def connect(self, name: str, url: str, credentials: dict[str, str] | None = None,
                **auth: Any) -> str:
        """A server with one instance of it (slug from the name); returns the instance id."""
        server = self.server(name, url, auth_config=auth or None)
        return str(self.instance(server["id"], name, credentials=credentials)["id"])

    def api_token(self, **body: Any) -> str:
        made = self.owner.post(self.url + "/bodhi/v1/tokens", json={"name": "mcp", **body})
        assert made.status_code == 201, made.text
        raw: str = made.json()["token"]
        return raw

    def grant(self, asks: list[dict[str, str]], instance_ids: list[str],
              scopes: tuple[str, ...] = ("mcp",)) -> dict[str, Any]:
        """An app asks for MCP servers, the owner binds instances; the app's tokens."""
        with httpx.Client(base_url=self.url, headers=bearer(self.credential),
                          timeout=WAIT_SECS) as ext:
            opened = ext.post("/bodhi/v1/apps/request-access", json={
                "origin": "http://127.0.0.1:8001", "app_name": "MCP page",
                "requested": {"scopes": list(scopes), "mcps": asks}})
            assert opened.status_code in (200, 201), opened.text
            request_id = opened.json()["id"]
            approved = ext.post(f"/bodhi/v1/apps/access-requests/{request_id}/approve",
                                json={"scopes": list(scopes), "mcps": instance_ids})
            assert approved.status_code == 200, approved.text
            tokens = ext.post("/bodhi/v1/apps/token", json={
                "grant_type": "access_request", "request_id": request_id})
            assert tokens.status_code == 200, tokens.text
            result: dict[str, Any] = tokens.json()
            return result

    def call(self, instance: str, token: str, method: str, **params: Any) -> httpx.Response:
        """``POST /bodhi/v1/apps/mcps/{id}/call`` with an app token."""
        return httpx.post(f"{self.url}/bodhi/v1/apps/mcps/{instance}/call", headers=bearer(token),
                          json={"method": method, "params": params or None}, timeout=WAIT_SECS)

    def revoke(self, grant_id: str) -> None:
        revoked = httpx.post(f"{self.url}/bodhi/v1/apps/grants/{grant_id}/revoke",
                             headers=bearer(self.credential), timeout=WAIT_SECS)
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace")
                       for p in sorted((self.companion.home / "logs").glob("*")) if p.is_file())


def owner_session(companion: Companion) -> httpx.Client:
    """The local owner's browser, signed in with the one-time link ``bodhi open`` prints."""
    link = companion.cli("open", "--no-browser").strip().splitlines()[-1]
    client = httpx.Client(timeout=WAIT_SECS)
    landed = client.get(link)
    if landed.status_code != 200:
        client.close()
        raise AssertionError(f"the owner login failed: {landed.text}")
    return client


def paired_extension(companion: Companion) -> str:
    code = companion.cli("pair").strip().splitlines()[-1]
    paired = httpx.post(companion.url + "/bodhi/v1/apps/extension/pair", timeout=WAIT_SECS,
                        json={"code": code, "extension_id": "test-ext", "browser": "chromium"})
    assert paired.status_code == 200, paired.text
    raw: str = paired.json()["credential"]
    return raw


@contextlib.contextmanager
def bodhi_running(root: Path) -> Iterator[Bodhi]:
    with running_companion(root) as companion, \
            contextlib.closing(owner_session(companion)) as owner:
        yield Bodhi(companion, owner, paired_extension(companion))


@dataclass
class Seen:
    """What the SDK's HTTP client sent and got back: (method, status, headers) per reply."""

    replies: list[tuple[str, int, httpx2.Headers]] = field(default_factory=list)

    async def __call__(self, response: httpx2.Response) -> None:
        self.replies.append((response.request.method, response.status_code, response.headers))

    def session_ids(self) -> set[str]:
        return {h["mcp-session-id"] for _, _, h in self.replies if "mcp-session-id" in h}

    def answers(self) -> list[str]:
        """The content types of the POST replies that carried an answer (not 202)."""
        return [h.get("content-type", "") for m, s, h in self.replies
                if m == "POST" and s == 200]


def sdk_session(url: str, token: str, seen: Seen | None = None
                ) -> contextlib.AbstractAsyncContextManager[ClientSession]:
    """The MCP SDK's own client on ``url`` with a bearer token, initialised."""
    return mcp_session(url, bearer(token), seen)


def error_of(reply: httpx.Response) -> dict[str, Any]:
    """The Bodhi envelope's error."""
    assert reply.headers["content-type"].startswith("application/json"), reply.text
    error: dict[str, Any] = reply.json()["error"]
    return error
