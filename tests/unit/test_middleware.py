"""companion/middleware: a tiny real aiohttp app behind the real middleware stack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.auth import ApiTokenService
from companion.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
)
from companion.families import ApiFamily, error_body, family_for
from companion.middleware import setup_middlewares
from companion.middleware.access import public
from companion.middleware.auth import PRINCIPAL
from companion.middleware.hosts import LOOPBACK_HOSTS, allowed_hosts

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]

SECRET_DETAIL = "kaboom at /home/someone/.bodhi/secret-path"


@public
async def ping(request: web.Request) -> web.Response:
    return web.json_response({"message": "pong"})


async def whoami(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    return web.json_response({"kind": principal.kind.value, "token_id": principal.token_id,
                              "scopes": sorted(principal.scopes)})


async def upload(request: web.Request) -> web.Response:
    return web.json_response({"received": len(await request.read())})


async def bad_request(request: web.Request) -> web.Response:
    raise BadRequestError("temperature is too hot", code="bad_temperature",
                          param="temperature")


async def conflict(request: web.Request) -> web.Response:
    raise ConflictError("already exists", code="exists")


async def missing(request: web.Request) -> web.Response:
    raise NotFoundError("no such thing", code="thing_not_found")


async def overloaded(request: web.Request) -> web.Response:
    raise ServiceUnavailableError("busy")


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError(SECRET_DETAIL)


def build_app(tokens: ApiTokenService, hosts: frozenset[str]) -> web.Application:
    app = web.Application()
    setup_middlewares(app, allowed_hosts=hosts, max_body=1000, tokens=tokens)
    app.router.add_get("/ping", ping)
    app.router.add_get("/v1/x", whoami)
    app.router.add_post("/v1/x", upload)
    app.router.add_get("/v1/bad", bad_request)
    app.router.add_get("/v1/boom", boom)
    app.router.add_get("/bodhi/v1/y", whoami)
    app.router.add_get("/bodhi/v1/bad", bad_request)
    app.router.add_get("/bodhi/v1/conflict", conflict)
    app.router.add_get("/bodhi/v1/boom", boom)
    for prefix in ("/anthropic/v1", "/v1/messages", "/v1beta/models", "/api"):
        app.router.add_get(f"{prefix}/missing", missing)
        app.router.add_get(f"{prefix}/bad", bad_request)
        app.router.add_get(f"{prefix}/busy", overloaded)
    return app


@pytest.fixture
def make_client(aiohttp_client: Any, tokens: ApiTokenService) -> MakeClient:
    async def make(hosts: frozenset[str] | None = None) -> Client:
        app = build_app(tokens, hosts or allowed_hosts("127.0.0.1", ""))
        client: Client = await aiohttp_client(app)
        return client

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


@pytest.fixture
async def bearer(tokens: ApiTokenService) -> dict[str, str]:
    _, raw = await tokens.create("tests")
    return {"Authorization": f"Bearer {raw}"}


def assert_openai_error(body: dict[str, Any], code: str, type_: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code
    assert body["error"]["type"] == type_
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def assert_bodhi_error(body: dict[str, Any], code: str, type_: str) -> None:
    assert set(body) == {"error"}
    assert {"message", "type", "code"} <= set(body["error"]) <= {"message", "type", "code",
                                                                 "param"}
    assert body["error"]["code"] == code
    assert body["error"]["type"] == type_


# --- authentication ------------------------------------------------------------------------


async def test_public_route_needs_no_token(client: Client) -> None:
    resp = await client.get("/ping")

    assert resp.status == 200
    assert await resp.json() == {"message": "pong"}


async def test_missing_token_on_openai_route(client: Client) -> None:
    resp = await client.get("/v1/x")

    assert resp.status == 401
    body = await resp.json()
    assert_openai_error(body, "auth_error-missing_token", "authentication_error")
    assert body["error"]["param"] is None


async def test_missing_token_on_bodhi_route(client: Client) -> None:
    resp = await client.get("/bodhi/v1/y")

    assert resp.status == 401
    body = await resp.json()
    assert_bodhi_error(body, "auth_error-missing_token", "authentication_error")
    assert "param" not in body["error"]


async def test_valid_token_resolves_the_principal(client: Client, tokens: ApiTokenService,
                                                  bearer: dict[str, str]) -> None:
    [token] = await tokens.list()

    for path in ("/v1/x", "/bodhi/v1/y"):
        resp = await client.get(path, headers=bearer)
        assert resp.status == 200, path
        assert await resp.json() == {"kind": "api_token", "token_id": token.id,
                                     "scopes": ["scope_token_user"]}


async def test_bearer_scheme_is_case_insensitive(client: Client, bearer: dict[str, str]) -> None:
    raw = bearer["Authorization"].removeprefix("Bearer ")

    resp = await client.get("/v1/x", headers={"Authorization": f"bearer {raw}"})

    assert resp.status == 200


@pytest.mark.parametrize("header", ["Bearer", "Basic dXNlcjpwYXNz", "Token bodhiapp_abc",
                                    "bodhiapp_abc", "Bearer    "])
async def test_malformed_authorization_header(client: Client, header: str) -> None:
    resp = await client.get("/v1/x", headers={"Authorization": header})

    assert resp.status == 401
    assert_openai_error(await resp.json(), "auth_error-invalid_header", "authentication_error")


@pytest.mark.parametrize("raw", ["bodhiapp_" + "x" * 43, "sk-not-ours"])
async def test_unknown_token_is_refused(client: Client, raw: str) -> None:
    resp = await client.get("/v1/x", headers={"Authorization": f"Bearer {raw}"})

    assert resp.status == 401
    assert_openai_error(await resp.json(), "auth_error-invalid_token", "authentication_error")


async def test_revoked_token_is_refused(client: Client, tokens: ApiTokenService,
                                        bearer: dict[str, str]) -> None:
    assert (await client.get("/v1/x", headers=bearer)).status == 200
    [token] = await tokens.list()
    await tokens.revoke(token.id)

    resp = await client.get("/bodhi/v1/y", headers=bearer)

    assert resp.status == 401
    assert_bodhi_error(await resp.json(), "auth_error-token_inactive", "authentication_error")


# --- host check ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost:1135", "localhost", "127.0.0.1", "127.0.0.1:80",
                                  "[::1]:1135", "[::1]", "LocalHost:1135"])
async def test_loopback_hosts_are_allowed(client: Client, host: str) -> None:
    resp = await client.get("/ping", headers={"Host": host})

    assert resp.status == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:1135", "localhost.evil.example",
                                  "127.0.0.1.nip.io", "[::2]:1135", "my.box"])
async def test_foreign_host_is_forbidden(client: Client, bearer: dict[str, str],
                                         host: str) -> None:
    for path in ("/ping", "/bodhi/v1/y"):
        resp = await client.get(path, headers={"Host": host, **bearer})
        assert resp.status == 403, path
        assert_bodhi_error(await resp.json(), "host_not_allowed", "forbidden_error")

    resp = await client.get("/v1/x", headers={"Host": host, **bearer})
    assert resp.status == 403
    assert_openai_error(await resp.json(), "host_not_allowed", "forbidden_error")


async def test_public_host_is_allowed_when_configured(make_client: MakeClient) -> None:
    client = await make_client(allowed_hosts("127.0.0.1", "my.box"))

    assert (await client.get("/ping", headers={"Host": "my.box:1135"})).status == 200
    assert (await client.get("/ping", headers={"Host": "My.Box"})).status == 200
    assert (await client.get("/ping", headers={"Host": "localhost:1135"})).status == 200
    assert (await client.get("/ping", headers={"Host": "other.box"})).status == 403


def test_allowed_hosts_sets() -> None:
    assert allowed_hosts("127.0.0.1", "") == LOOPBACK_HOSTS
    assert allowed_hosts("0.0.0.0", "") == LOOPBACK_HOSTS
    assert allowed_hosts("::", "") == LOOPBACK_HOSTS
    assert allowed_hosts("192.168.1.5", "") == LOOPBACK_HOSTS | {"192.168.1.5"}
    assert allowed_hosts("127.0.0.1", "My.Box:8080") == LOOPBACK_HOSTS | {"my.box"}
    assert allowed_hosts("127.0.0.1", "[fd00::5]:8080") == LOOPBACK_HOSTS | {"[fd00::5]"}


async def test_ipv6_bind_host_is_allowed(make_client: MakeClient) -> None:
    client = await make_client(allowed_hosts("fd00::5", ""))

    assert (await client.get("/ping", headers={"Host": "[fd00::5]:1135"})).status == 200


# --- body size -----------------------------------------------------------------------------


async def test_body_over_the_limit_is_refused(client: Client, bearer: dict[str, str]) -> None:
    resp = await client.post("/v1/x", data=b"x" * 1001, headers=bearer)

    assert resp.status == 413
    assert_openai_error(await resp.json(), "request_too_large", "invalid_request_error")


async def test_body_at_the_limit_is_accepted(client: Client, bearer: dict[str, str]) -> None:
    resp = await client.post("/v1/x", data=b"x" * 1000, headers=bearer)

    assert resp.status == 200
    assert await resp.json() == {"received": 1000}


# --- errors --------------------------------------------------------------------------------


async def test_unknown_route_is_404_in_the_family_shape(client: Client,
                                                        bearer: dict[str, str]) -> None:
    resp = await client.get("/v1/nope", headers=bearer)
    assert resp.status == 404
    assert_openai_error(await resp.json(), "route_not_found", "not_found_error")

    resp = await client.get("/bodhi/v1/nope", headers=bearer)
    assert resp.status == 404
    assert_bodhi_error(await resp.json(), "route_not_found", "not_found_error")

    resp = await client.get("/api/nope", headers=bearer)
    assert resp.status == 404
    body = await resp.json()
    assert set(body) == {"error"} and isinstance(body["error"], str)


async def test_wrong_method_is_405(client: Client) -> None:
    resp = await client.post("/ping")

    assert resp.status == 405
    assert_bodhi_error(await resp.json(), "http_405", "invalid_request_error")


async def test_bodhi_error_keeps_code_and_param(client: Client, bearer: dict[str, str]) -> None:
    resp = await client.get("/v1/bad", headers=bearer)
    assert resp.status == 400
    assert await resp.json() == {"error": {"message": "temperature is too hot",
                                           "type": "invalid_request_error",
                                           "param": "temperature", "code": "bad_temperature"}}

    resp = await client.get("/bodhi/v1/bad", headers=bearer)
    assert resp.status == 400
    assert await resp.json() == {"error": {"message": "temperature is too hot",
                                           "type": "invalid_request_error",
                                           "code": "bad_temperature", "param": "temperature"}}

    resp = await client.get("/bodhi/v1/conflict", headers=bearer)
    assert resp.status == 409
    assert await resp.json() == {"error": {"message": "already exists",
                                           "type": "conflict_error", "code": "exists"}}


@pytest.mark.parametrize("path", ["/v1/boom", "/bodhi/v1/boom"])
async def test_unexpected_exception_is_500_without_internals(
        client: Client, bearer: dict[str, str], caplog: pytest.LogCaptureFixture,
        path: str) -> None:
    resp = await client.get(path, headers=bearer)

    assert resp.status == 500
    text = await resp.text()
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert "kaboom" not in text and "secret-path" not in text
    body = await resp.json()
    assert body["error"]["code"] == "internal_error"
    assert body["error"]["type"] == "internal_server_error"
    # It is logged for the owner instead.
    assert any(r.exc_info and "kaboom" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize("prefix", ["/anthropic/v1", "/v1/messages"])
async def test_anthropic_errors(client: Client, bearer: dict[str, str], prefix: str) -> None:
    resp = await client.get(f"{prefix}/missing", headers=bearer)
    assert resp.status == 404
    assert await resp.json() == {"type": "error", "error": {"type": "not_found_error",
                                                            "message": "no such thing"}}

    resp = await client.get(f"{prefix}/busy", headers=bearer)
    assert resp.status == 503
    assert await resp.json() == {"type": "error", "error": {"type": "overloaded_error",
                                                            "message": "busy"}}

    resp = await client.get(f"{prefix}/missing")
    assert resp.status == 401
    error = (await resp.json())["error"]
    assert error["type"] == "authentication_error"
    assert "'x-api-key'" in error["message"]


async def test_gemini_errors(client: Client, bearer: dict[str, str]) -> None:
    resp = await client.get("/v1beta/models/missing", headers=bearer)
    assert resp.status == 404
    assert await resp.json() == {"error": {"code": 404, "message": "no such thing",
                                           "status": "NOT_FOUND"}}

    resp = await client.get("/v1beta/models/bad", headers=bearer)
    assert resp.status == 400
    assert (await resp.json())["error"]["status"] == "INVALID_ARGUMENT"

    resp = await client.get("/v1beta/models/missing")
    assert resp.status == 401
    error = (await resp.json())["error"]
    assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
    # The message names where a Gemini client puts its key, not only Bearer.
    assert "'x-goog-api-key'" in error["message"] and "'?key='" in error["message"]


async def test_ollama_errors(client: Client, bearer: dict[str, str]) -> None:
    resp = await client.get("/api/missing", headers=bearer)
    assert resp.status == 404
    assert await resp.json() == {"error": "no such thing"}

    resp = await client.get("/api/busy", headers=bearer)
    assert resp.status == 503
    assert await resp.json() == {"error": "busy"}


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/v1/chat/completions", ApiFamily.OPENAI),
        ("/v1/models", ApiFamily.OPENAI),
        ("/v1/messages", ApiFamily.ANTHROPIC),
        ("/anthropic/v1/messages", ApiFamily.ANTHROPIC),
        ("/v1beta/models/m:generateContent", ApiFamily.GEMINI),
        ("/api/chat", ApiFamily.OLLAMA),
        ("/bodhi/v1/info", ApiFamily.BODHI),
        ("/ping", ApiFamily.BODHI),
        ("/", ApiFamily.BODHI),
    ],
)
def test_family_for(path: str, family: ApiFamily) -> None:
    assert family_for(path) is family


@pytest.mark.parametrize(
    ("status", "anthropic", "google"),
    [(400, "invalid_request_error", "INVALID_ARGUMENT"),
     (401, "authentication_error", "UNAUTHENTICATED"),
     (403, "permission_error", "PERMISSION_DENIED"),
     (404, "not_found_error", "NOT_FOUND"),
     (413, "request_too_large", "INVALID_ARGUMENT"),
     (500, "api_error", "INTERNAL"),
     (502, "api_error", "INTERNAL"),
     (503, "overloaded_error", "UNAVAILABLE")],
)
def test_error_body_per_family(status: int, anthropic: str, google: str) -> None:
    error = BadRequestError("msg", code="c", param="p")
    error.status = status

    assert error_body(ApiFamily.OPENAI, error) == {
        "error": {"message": "msg", "type": "invalid_request_error", "param": "p", "code": "c"}}
    assert error_body(ApiFamily.BODHI, error) == {
        "error": {"message": "msg", "type": "invalid_request_error", "code": "c", "param": "p"}}
    assert error_body(ApiFamily.ANTHROPIC, error) == {
        "type": "error", "error": {"type": anthropic, "message": "msg"}}
    assert error_body(ApiFamily.GEMINI, error) == {
        "error": {"code": status, "message": "msg", "status": google}}
    assert error_body(ApiFamily.OLLAMA, error) == {"error": "msg"}
