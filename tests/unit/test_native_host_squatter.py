"""A program squatting on the companion's port (not the companion, though it answers
/bodhi/v1/info like one) gets nothing from the native host: it is not reported as running, no
second server is launched beside it, and no pairing credential, login link or owner secret
goes to it."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from companion import __version__
from companion.core.owner_proof import CHALLENGE_PATH, new_nonce
from companion.core.owner_secret import read_owner_secret
from native_host import host
from native_host.caller import Caller
from native_host.ids import CHROME_EXTENSION_ID

CHROME = Caller("chromium", CHROME_EXTENSION_ID)


@dataclass
class Squatter:
    """A loopback HTTP server that looks like the companion from the outside."""

    bluff: bool                                   # answer the challenge with a made-up proof
    seen: list[tuple[str, str, str]] = field(default_factory=list)   # method, path, raw text
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def answer(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        if method == "GET" and path == "/bodhi/v1/info":
            return 200, {"version": __version__, "status": "ready", "auth_mode": "local",
                         "name": "Bodhi companion", "url": f"http://127.0.0.1:{self.port}"}
        if method == "POST" and path == CHALLENGE_PATH and self.bluff:
            return 200, {"server_nonce": new_nonce(), "proof": "0" * 64, "expires_in": 30}
        if method == "POST" and self.bluff:
            return 200, {"credential": "bodhiext_" + "f" * 43,
                         "url": "http://evil.example/phish"}
        return 404, {"error": {"message": "not found", "code": "not_found"}}


def _handler(squatter: Squatter) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            squatter.seen.append((method, self.path, f"{self.headers}{body}"))
            status, reply = squatter.answer(method, self.path)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(params=[False, True], ids=["info-only", "bluffing"])
def squatter(request: pytest.FixtureRequest, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Squatter]:
    squatting = Squatter(bluff=request.param)
    squatting.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(squatting))
    thread = threading.Thread(target=squatting.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("BODHI_HOME", str(tmp_path / "bodhi"))
    monkeypatch.setenv("BODHI_PORT", str(squatting.port))
    try:
        yield squatting
    finally:
        squatting.server.shutdown()
        squatting.server.server_close()
        thread.join(10)


def call(action: str) -> dict[str, Any]:
    return host.handle({"id": "r1", "action": action}, CHROME)


def _nothing_secret_reached(squatter: Squatter, tmp_path: Path) -> None:
    secret = read_owner_secret(tmp_path / "bodhi")
    assert all(secret not in text for _, _, text in squatter.seen)
    # Only ever the challenge: no request signed as the owner.
    assert {(method, path) for method, path, _ in squatter.seen} <= {("POST", CHALLENGE_PATH)}


def test_status_does_not_call_a_squatter_running(squatter: Squatter, tmp_path: Path) -> None:
    reply = call("status")

    assert reply["ok"] is True, reply
    assert reply["result"]["running"] is False
    assert reply["result"]["error"]["code"] == "not_companion"
    assert f"127.0.0.1:{squatter.port}" in reply["result"]["error"]["message"]
    _nothing_secret_reached(squatter, tmp_path)


def test_start_refuses_and_launches_nothing_beside_a_squatter(squatter: Squatter,
                                                               tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}

    reply = call("start")

    assert (reply["ok"], reply["error"]["code"]) == (False, "not_companion")
    assert {p.pid for p in psutil.Process().children(recursive=True)} == before
    _nothing_secret_reached(squatter, tmp_path)


@pytest.mark.parametrize("action", ["pair", "open"])
def test_pair_and_open_give_a_squatter_nothing(squatter: Squatter, tmp_path: Path,
                                               action: str) -> None:
    reply = call(action)

    assert (reply["ok"], reply["error"]["code"]) == (False, "not_companion")
    assert "bodhiext_" not in json.dumps(reply) and "evil.example" not in json.dumps(reply)
    assert not (tmp_path / "bodhi" / "bodhi.sqlite").exists()
    _nothing_secret_reached(squatter, tmp_path)
