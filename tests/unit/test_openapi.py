"""The API document (``GET /openapi.json``) and the route table are equal: every route of the
real app (``build_app``) is documented and nothing else is; the document is valid OpenAPI 3.1;
each family's error JSON matches its documented schema; replies are held to their models;
Swagger UI is served from the vendored files with a 'self'-only CSP."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from pydantic import ValidationError

from companion.app import build_app
from companion.core.errors import (
    BadRequestError,
    BodhiError,
    NotFoundError,
    TooManyRequestsError,
)
from companion.core.settings import load_settings
from companion.families import ApiFamily, error_body
from companion.middleware.access import public
from companion.middleware.docs import documented
from companion.routes.error_schemas import ERROR_SCHEMAS
from companion.routes.openapi import build_document, routes
from companion.routes.replies import TokenOut, shaped

Client = TestClient[web.Request, web.Application]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: Any) -> Client:
    settings = load_settings(env={"BODHI_HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf")})
    made: Client = await aiohttp_client(await build_app(settings))
    return made


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items()
            for method in item}


async def test_every_route_is_documented_and_nothing_else(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    table = {(method, path) for method, path, _ in routes(client.app)}
    assert len(table) > 100
    assert _operations(document) == table
    validate(document)


async def test_the_document_names_auth_and_errors_per_family(client: Client) -> None:
    paths = (await (await client.get("/openapi.json")).json())["paths"]
    ping, tokens = paths["/ping"]["get"], paths["/bodhi/v1/tokens"]["post"]
    assert ping["security"] == [] and "401" not in ping["responses"]
    assert tokens["security"] == [{"sessionCookie": []}]
    assert {"400", "401", "403", "5XX"} <= set(tokens["responses"])
    body = tokens["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CreateToken"}
    chat = paths["/v1/chat/completions"]["post"]
    assert {"bearerToken": []} in chat["security"] and {"sessionCookie": []} in chat["security"]
    assert chat["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OpenaiError"}
    messages = paths["/v1/messages"]["post"]
    assert {"anthropicKey": []} in messages["security"]
    assert messages["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AnthropicError"}
    gemini = paths["/v1beta/models/{model}:generateContent"]["post"]
    assert {"geminiKey": []} in gemini["security"]
    owner = paths["/bodhi/v1/owner/login-link"]["post"]
    assert owner["security"] == [{"ownerProof": []}]


async def test_swagger_ui_is_served_from_vendored_files(client: Client) -> None:
    page = await client.get("/swagger-ui")
    assert page.status == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "http" not in csp
    html = await page.text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js"):
        assert f"/swagger-ui/{name}" in html
        asset = await client.get(f"/swagger-ui/{name}")
        assert asset.status == 200 and len(await asset.read()) > 100
    assert (await client.get("/swagger-ui/pyproject.toml")).status == 404
    assert (await client.get("/swagger-ui/LICENSE")).status == 404


def test_vendored_files_match_their_manifest() -> None:
    manifest = json.loads((ROOT / "companion/web/vendor/MANIFEST.json").read_text())
    swagger = [entry for entry in manifest if entry["package"] == "swagger-ui-dist"]
    assert swagger
    for entry in swagger:
        digest = hashlib.sha256((ROOT / entry["path"]).read_bytes()).hexdigest()
        assert digest == entry["sha256"], entry["path"]


async def test_a_route_without_documentation_is_missing_from_the_document() -> None:
    @public
    @documented("Known")
    async def known(request: web.Request) -> web.Response:
        return web.json_response({})

    @public
    async def forgotten(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/known", known)
    app.router.add_post("/forgotten/{id}", forgotten)
    document = build_document(app)
    table = {(method, path) for method, path, _ in routes(app)}
    assert table == {("GET", "/known"), ("POST", "/forgotten/{id}")}
    assert _operations(document) != table
    assert table - _operations(document) == {("POST", "/forgotten/{id}")}


@pytest.mark.parametrize("family", list(ApiFamily))
@pytest.mark.parametrize("error", [BadRequestError("bad", param="x"),
                                   NotFoundError("gone"), BodhiError("boom"),
                                   TooManyRequestsError("slow down", retry_after=3)])
def test_each_familys_error_json_matches_its_documented_schema(family: ApiFamily,
                                                                error: BodhiError) -> None:
    ERROR_SCHEMAS[family.value.name].model_validate(error_body(family, error), strict=True)


def test_a_reply_that_drifts_from_its_model_fails_loudly() -> None:
    token = {"id": "t", "name": "n", "scopes": "s", "status": "active", "models": None,
             "mcps": "all", "expires_at": None, "created_at": 1, "updated_at": 1,
             "last_used_at": None}
    assert shaped(TokenOut, token) == token
    with pytest.raises(ValidationError):
        shaped(TokenOut, {**token, "secret": "x"})
    with pytest.raises(ValidationError):
        shaped(TokenOut, {k: v for k, v in token.items() if k != "name"})
