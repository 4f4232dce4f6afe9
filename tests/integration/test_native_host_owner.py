"""The native host's pair, open and status against the real companion: credentials and login
links come over HTTP, proven with the owner secret, and a squatter that relays everything to
the real companion (listening on another port) still gets nothing."""

from __future__ import annotations

import http.server
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from native_host import host
from native_host.caller import Caller
from native_host.ids import CHROME_EXTENSION_ID
from tests.conftest import Companion, running_companion

CHROME = Caller("chromium", CHROME_EXTENSION_ID)


@pytest.fixture(scope="module")
def companion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    with running_companion(tmp_path_factory.mktemp("owner")) as running:
        yield running


def call(action: str, monkeypatch: pytest.MonkeyPatch, home: Path, port: int
         ) -> dict[str, Any]:
    monkeypatch.setenv("BODHI_HOME", str(home))
    monkeypatch.setenv("BODHI_PORT", str(port))
    return host.handle({"id": "r1", "action": action}, CHROME)


def _credentials(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{home / 'bodhi.sqlite'}?mode=ro", uri=True) as db:
        return db.execute("SELECT extension_id, browser FROM extension_credentials").fetchall()


def test_status_reports_the_companion_once_it_proved_itself(
        companion: Companion, monkeypatch: pytest.MonkeyPatch) -> None:
    reply = call("status", monkeypatch, companion.home, companion.port)

    assert reply["ok"] is True, reply
    result = reply["result"]
    assert (result["running"], result["url"], result["status"]) == (True, companion.url,
                                                                     "ready")
    assert result["version"] and "error" not in result


def test_pair_gets_a_working_credential_from_the_running_companion(
        companion: Companion, monkeypatch: pytest.MonkeyPatch) -> None:
    first = call("pair", monkeypatch, companion.home, companion.port)
    second = call("pair", monkeypatch, companion.home, companion.port)

    assert first["ok"] is True, first
    assert first["result"]["url"] == companion.url
    assert first["result"]["credential"] != second["result"]["credential"]
    for reply in (first, second):
        grants = httpx.get(companion.url + "/bodhi/v1/apps/grants", headers={
            "Authorization": f"Bearer {reply['result']['credential']}"})
        assert grants.status_code == 200, grants.text
    assert _credentials(companion.home).count((CHROME_EXTENSION_ID, "chromium")) >= 2


def test_open_gives_a_one_time_owner_login_link(companion: Companion,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    reply = call("open", monkeypatch, companion.home, companion.port)

    assert reply["ok"] is True, reply
    url = reply["result"]["url"]
    assert url.startswith(companion.url + "/bodhi/v1/auth/owner-login?ticket=bodhiol_")
    with httpx.Client(timeout=60) as browser:
        assert browser.get(url).status_code == 200
        assert browser.get(companion.url + "/bodhi/v1/user").json()["role"] == \
            "resource_admin"
    assert httpx.get(url).status_code == 401                # single use


class _Relay(http.server.BaseHTTPRequestHandler):
    """Forwards every request, byte for byte, to the real companion."""

    target = ""

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in {"host", "content-length", "connection"}}
        answer = httpx.request(self.command, self.target + self.path, headers=headers,
                               content=body, timeout=30)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "text/plain"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _relay

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def relay(companion: Companion) -> Iterator[int]:
    handler = type("Relay", (_Relay,), {"target": companion.url})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_squatter_relaying_to_the_real_companion_gets_nothing(
        companion: Companion, relay: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proofs name the companion's own URL, so answers relayed from a companion on
    another port do not prove anything to a host that asked at the squatter's port."""
    issued = len(_credentials(companion.home))

    status = call("status", monkeypatch, companion.home, relay)
    paired = call("pair", monkeypatch, companion.home, relay)
    opened = call("open", monkeypatch, companion.home, relay)

    assert status["result"]["running"] is False
    assert status["result"]["error"]["code"] == "not_companion"
    assert (paired["ok"], paired["error"]["code"]) == (False, "not_companion")
    assert (opened["ok"], opened["error"]["code"]) == (False, "not_companion")
    assert len(_credentials(companion.home)) == issued
