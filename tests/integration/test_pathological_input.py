"""Pathological bodies on every JSON route of the real companion, in every API family.

The routes come from the companion's own ``/openapi.json`` (each operation with a JSON request
body), so a new route is covered without touching this file; the family, and so the error
format expected, comes from the path as the server decides it. Every bad body is a 4xx in the
family's format, never a 5xx, and the server keeps answering ``/ping``. One signed-in owner
companion: bearer-token routes get a power-user token, session routes the owner's cookie (as
in test_schemathesis.py), so the body is read on the routes that need more than a token.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from companion.families import ApiFamily, family_for
from tests.conftest import Companion, free_port, running_companion

pytestmark = pytest.mark.timeout(180)

Op = tuple[str, str, str]   # method, path (ids filled in), security scheme

# A syntactically plausible object with one pathological member.
BAD_BODIES: dict[str, bytes] = {
    "deep": b'{"model": "m", "x": ' + b"[" * 30000 + b"]" * 30000 + b"}",
    "nan": b'{"model": "m", "temperature": NaN}',
    "infinity": b'{"model": "m", "temperature": -Infinity}',
    "overflowing-float": b'{"model": "m", "temperature": 1e999999}',
    "5000-digits": b'{"model": "m", "max_tokens": ' + b"9" * 5000 + b"}",
    "beyond-64-bits": b'{"model": "m", "max_tokens": 36893488147419103232}',
    "invalid-utf8": b'{"model": "m\xff\xfe"}',
    "lone-surrogate": (b'{"model": "m\\ud800", '
                       b'"messages": [{"role": "user", "content": "\\udfff"}]}'),
    "duplicate-keys": b'{"model": "m", "model": "n"}',
    "truncated": b'{"model": "m", "messages": [{"role": "user", "cont',
}


def _message(family: ApiFamily, body: Any) -> str:
    """The error's message, once the body has the family's error shape."""
    if family is ApiFamily.OLLAMA:
        assert set(body) == {"error"} and isinstance(body["error"], str), body
        return str(body["error"])
    if family is ApiFamily.ANTHROPIC:
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
    elif family is ApiFamily.GEMINI:
        assert set(body["error"]) == {"code", "message", "status"}, body
    elif family is ApiFamily.OPENAI:
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
    else:
        assert {"message", "type", "code"} <= set(body["error"]), body
    return str(body["error"]["message"])


def _path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "smollm2:135m" if m[0] == "{model}" else "x", template)


def _operations(spec: dict[str, Any]) -> list[Op]:
    ops = []
    for template, item in spec["paths"].items():
        for method, op in item.items():
            content = (op.get("requestBody") or {}).get("content", {}) \
                if isinstance(op, dict) else {}
            if "application/json" in content:
                schemes = {name for need in op.get("security", []) for name in need}
                ops.append((method.upper(), _path(template),
                            "cookie" if schemes == {"sessionCookie"} else "token"))
    return ops


class Client:
    def __init__(self, companion: Companion, cookie: str, token: str) -> None:
        self.companion, self.cookie, self.token = companion, cookie, token
        self.http = httpx.Client(timeout=30)

    def send(self, op: Op, body: bytes, content_type: str | None = "application/json"
             ) -> httpx.Response:
        method, path, scheme = op
        headers = ({"Cookie": self.cookie} if scheme == "cookie"
                   else {"Authorization": f"Bearer {self.token}"})
        if content_type:
            headers["Content-Type"] = content_type
        return self.http.request(method, self.companion.url + path, content=body,
                                 headers=headers)

    def serves(self) -> bool:
        return self.http.get(self.companion.url + "/ping").status_code == 200


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    closed = f"http://127.0.0.1:{free_port()}"
    with running_companion(tmp_path_factory.mktemp("hostile"), HF_ENDPOINT=closed) as companion:
        link = companion.cli("open", "--no-browser").strip().splitlines()[-1]
        with httpx.Client(base_url=companion.url, timeout=15) as browser:
            assert browser.get(link).status_code == 200
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            token = browser.post("/bodhi/v1/tokens", json={
                "name": "hostile", "scope": "scope_token_power_user"}).json()["token"]
        client = Client(companion, cookie, token)
        with client.http:
            yield client
        log = companion.log_text()
        assert "Traceback" not in log
        assert not re.search(r"aiohttp\.access: \S+ \S+ 5\d\d ", log)


@pytest.fixture(scope="module")
def operations(client: Client) -> list[Op]:
    spec = httpx.get(client.companion.url + "/openapi.json", timeout=10).json()
    ops = _operations(spec)
    families = {family_for(path) for _, path, _ in ops}
    assert families >= {ApiFamily.BODHI, ApiFamily.OPENAI, ApiFamily.ANTHROPIC,
                        ApiFamily.GEMINI, ApiFamily.OLLAMA}, families
    return ops


def _refused(op: Op, reply: httpx.Response) -> str:
    assert 400 <= reply.status_code < 500, (op, reply.status_code, reply.text[:300])
    return _message(family_for(op[1]), reply.json())


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_a_bad_json_body_is_a_400_in_the_family_format(client: Client, operations: list[Op],
                                                       name: str) -> None:
    statuses = {}
    for op in operations:
        reply = client.send(op, BAD_BODIES[name])
        _refused(op, reply)
        statuses[op] = reply.status_code
    # Routes that take a token read the body first: each refuses it as bad JSON.
    parsed = [op for op in operations if op[2] == "token" and not op[1].startswith("/bodhi/")]
    assert {statuses[op] for op in parsed} == {400}, statuses
    assert client.serves()


@pytest.mark.parametrize("content_type", [None, "text/plain;charset=UTF-8",
                                          "application/x-www-form-urlencoded"])
def test_a_json_body_must_be_labelled_json_except_for_ollama(
        client: Client, operations: list[Op], content_type: str | None) -> None:
    # A body each route's schema refuses: what matters is which error comes first.
    body = b'{"model": 5, "name": 5}'
    for op in operations:
        message = _refused(op, client.send(op, body, content_type))
        if family_for(op[1]) is ApiFamily.OLLAMA:
            assert "Content-Type" not in message, (op, message)
        elif op[2] == "token" and not op[1].startswith("/bodhi/"):
            assert "Content-Type: application/json" in message, (op, message)
    assert client.serves()


def test_ollama_takes_a_curl_d_body(client: Client) -> None:
    reply = client.send(("POST", "/api/show", "token"), b'{"model": "smollm2:135m"}',
                        "application/x-www-form-urlencoded")

    assert reply.status_code == 200, reply.text


def test_a_ten_megabyte_string_is_refused_quickly(client: Client, operations: list[Op]) -> None:
    body = b'{"model": "' + b"m" * (10 * 1024 * 1024) + b'", "input": 5, "messages": 5}'
    for op in operations:
        try:
            reply = client.send(op, body)
        except httpx.WriteError:
            continue       # refused (413) before the body was read, and the socket closed
        message = _refused(op, reply)
        assert len(reply.content) < 64 * 1024 and len(message) < 4096, op
    assert client.serves()


def _cut_short(client: Client, op: Op) -> bytes:
    """Announces a 1,000-byte body, sends 20 bytes, then leaves."""
    method, path, scheme = op
    auth = (f"Cookie: {client.cookie}" if scheme == "cookie"
            else f"Authorization: Bearer {client.token}")
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    with socket.create_connection(("127.0.0.1", client.companion.port), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"model": "smollm2:')
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        try:
            return sock.recv(4096)
        except (TimeoutError, ConnectionResetError):
            return b""


def test_a_body_that_ends_early_leaves_the_server_serving(client: Client,
                                                          operations: list[Op]) -> None:
    for op in operations:
        answer = _cut_short(client, op)
        # Nothing, or a 4xx: never a server error.
        assert not answer.startswith(b"HTTP/1.1 5"), (op, answer[:200])
    assert client.serves()
