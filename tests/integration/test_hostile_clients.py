"""Hostile clients against the real companion: deeply nested JSON bodies, and connections that
trickle their request headers (or never finish them)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Companion, running_companion, wait_until

# 30,000 levels: past Python's recursion limit, yet under the 64 KiB limit of control routes.
TOO_DEEP = b"[" * 30000 + b"]" * 30000
DEEP_FIELD = (b'{"model": "smollm2:135m", "messages": ' + b"[" * 200 + b"]" * 200
              + b', "prompt": "x", "input": "x"}')


def _post(companion: Companion, path: str, body: bytes, token: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(companion.url + path, content=body, headers=headers, timeout=30)


def _message(family: str, body: dict[str, Any]) -> str:
    if family == "ollama":
        message: str = body["error"]
        return message
    assert body["error"]["type"] == "invalid_request_error"
    if family == "openai":
        assert body["error"]["code"] == "invalid_json"
    message = body["error"]["message"]
    return message


@pytest.mark.parametrize(("path", "family"), [
    ("/v1/chat/completions", "openai"), ("/v1/completions", "openai"),
    ("/v1/embeddings", "openai"), ("/api/chat", "ollama"), ("/api/generate", "ollama"),
    ("/api/show", "ollama"), ("/bodhi/v1/apps/extension/pair", "bodhi"),
])
@pytest.mark.parametrize("body", [TOO_DEEP, DEEP_FIELD], ids=["recursion", "deep-field"])
def test_deeply_nested_json_is_a_400_in_the_family_format(
        shared_companion: Companion, token: str, path: str, family: str, body: bytes) -> None:
    reply = _post(shared_companion, path, body, token if family != "bodhi" else None)

    assert reply.status_code == 400, reply.text
    assert "nested deeper than" in _message(family, reply.json())


def test_nested_json_leaves_no_traceback_and_the_server_serves(shared_companion: Companion,
                                                               token: str) -> None:
    for _ in range(5):
        assert _post(shared_companion, "/v1/chat/completions", TOO_DEEP, token).status_code == 400

    assert "Traceback" not in shared_companion.log_text()
    reply = httpx.get(shared_companion.url + "/v1/models",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert reply.status_code == 200


# --- slow headers ---------------------------------------------------------------------------

HEADER_TIMEOUT = 1
MAX_PENDING = 8


@pytest.fixture(scope="module")
def strict_companion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    with running_companion(tmp_path_factory.mktemp("strict"),
                           BODHI_HEADER_TIMEOUT_SECS=str(HEADER_TIMEOUT),
                           BODHI_MAX_PENDING_CONNECTIONS=str(MAX_PENDING)) as companion:
        yield companion


def _trickler(companion: Companion) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", companion.port), timeout=5)
    sock.sendall(b"GET /ping HTTP/1.1\r\n")
    return sock


def _closed(sock: socket.socket) -> bool:
    """True once the server closed the connection (EOF or reset)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def _trickle(socks: list[socket.socket]) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.sendall(b"X")


def test_connections_that_never_finish_their_headers_are_closed(strict_companion: Companion
                                                                 ) -> None:
    socks = [_trickler(strict_companion) for _ in range(MAX_PENDING)]
    try:
        started = time.monotonic()
        # Keep sending a byte at a time: activity does not extend the deadline.
        assert wait_until(lambda: (_trickle(socks), all(_closed(s) for s in socks))[1],
                          timeout=HEADER_TIMEOUT + 4, interval=0.2)
        assert time.monotonic() - started < HEADER_TIMEOUT + 4
        assert httpx.get(strict_companion.url + "/ping", timeout=5).status_code == 200
    finally:
        for sock in socks:
            sock.close()


def test_connections_past_the_pending_bound_are_closed_at_once(strict_companion: Companion
                                                                ) -> None:
    held = [_trickler(strict_companion) for _ in range(MAX_PENDING)]
    time.sleep(0.2)
    extra = [_trickler(strict_companion) for _ in range(4)]
    try:
        assert wait_until(lambda: all(_closed(s) for s in extra), timeout=0.5 * HEADER_TIMEOUT)
        assert not any(_closed(s) for s in held)
    finally:
        for sock in held + extra:
            sock.close()
    # Once the held ones are gone the server takes connections again.
    assert wait_until(lambda: _ping(strict_companion), timeout=HEADER_TIMEOUT + 3)
    assert "refused a connection" in strict_companion.log_text()


def _ping(companion: Companion) -> bool:
    try:
        return httpx.get(companion.url + "/ping", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_the_deadline_is_for_headers_only(strict_companion: Companion) -> None:
    """Headers sent slowly but in time work, and so does a kept-alive connection that idles
    past the header deadline before its next request."""
    request = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    with socket.create_connection(("127.0.0.1", strict_companion.port), timeout=10) as sock:
        sock.sendall(request)
        time.sleep(HEADER_TIMEOUT / 2)
        sock.sendall(b"\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
        time.sleep(HEADER_TIMEOUT + 0.5)
        sock.sendall(request + b"\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")


# --- Host headers over a raw socket -----------------------------------------------------------

def _raw(companion: Companion, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", companion.port), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(4096)


@pytest.mark.parametrize(("head", "status"), [
    (b"GET /ping HTTP/1.1\r\nHost: localhost:1135\r\n", b"200"),
    (b"GET /ping HTTP/1.1\r\nHost: LOCALHOST\r\n", b"200"),
    (b"GET /ping HTTP/1.1\r\nHost: [::1]:1135\r\n", b"200"),
    (b"GET /ping HTTP/1.1\r\nHost: localhost:1135@evil.example\r\n", b"4"),
    (b"GET /ping HTTP/1.1\r\nHost: localhost.\r\n", b"4"),
    (b"GET /ping HTTP/1.1\r\nHost: ::1\r\n", b"4"),
    (b"GET /ping HTTP/1.1\r\nHost: localhost:99999\r\n", b"4"),
    (b"GET /ping HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n", b"4"),
    (b"GET /ping HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n", b"4"),
    (b"GET /ping HTTP/1.1\r\n", b"4"),
    (b"GET /ping HTTP/1.0\r\n", b"4"),
    (b"GET http://evil.example/ping HTTP/1.1\r\nHost: evil.example\r\n", b"4"),
], ids=["port", "case", "ipv6", "userinfo", "trailing-dot", "bare-ipv6", "big-port",
        "two-hosts", "same-host-twice", "no-host", "http10-no-host", "absolute-form"])
def test_host_headers_on_the_wire(shared_companion: Companion, head: bytes,
                                  status: bytes) -> None:
    answer = _raw(shared_companion, head + b"Connection: close\r\n\r\n")

    assert answer.split(b" ")[1].startswith(status), answer[:300]
    assert _ping(shared_companion)


def test_an_absolute_form_target_must_agree_with_the_host_header(
        shared_companion: Companion) -> None:
    """aiohttp takes the host of an absolute-form target as the request's host (and so as
    the server's own origin, which CORS and sessions compare with): it must be ours."""
    refused = _raw(shared_companion, b"GET http://evil.example/ping HTTP/1.1\r\n"
                                     b"Host: localhost\r\nConnection: close\r\n\r\n")
    served = _raw(shared_companion, b"GET http://localhost/ping HTTP/1.1\r\n"
                                    b"Host: localhost\r\nConnection: close\r\n\r\n")

    assert refused.startswith(b"HTTP/1.1 403"), refused[:300]
    assert served.startswith(b"HTTP/1.1 200"), served[:300]
