"""companion/routes/bodies.py: JSON bodies checked against the OpenAI request schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.core.json_limits import MAX_DEPTH
from companion.middleware.errors import error_middleware
from companion.routes.bodies import read_json
from companion.routes.openai_schemas import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    describe_error,
)

Client = TestClient[web.Request, web.Application]

GOOD_CHAT: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def echo(schema: type[ChatCompletionRequest | CompletionRequest | EmbeddingRequest]) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"body": await read_json(request, schema, describe_error)})

    return handler


@pytest.fixture
async def client(aiohttp_client: Any) -> Client:
    app = web.Application()
    app.middlewares.append(error_middleware())
    app.router.add_post("/v1/chat/completions", echo(ChatCompletionRequest))
    app.router.add_post("/v1/completions", echo(CompletionRequest))
    app.router.add_post("/v1/embeddings", echo(EmbeddingRequest))
    result: Client = await aiohttp_client(app)
    return result


async def post_error(client: Client, data: bytes | str, path: str = "/v1/chat/completions"
                     ) -> dict[str, Any]:
    resp = await client.post(path, data=data, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    body = await resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize("data", [
    b"", b"{", b"{'model': 'm'}", b"not json", b'{"model": "\xff"}', b'{"model": "m",}',
    b'{"model": "m", "t": NaN}', b'{"model": "m", "t": Infinity}',
    b'{"model": "m", "t": -Infinity}',
    b'{"model": "m", "t": 1e999999}', b'{"model": "m", "t": -1e400}',
    b'{"model": "m", "t": 18446744073709551616}', b'{"model": "m", "t": -9223372036854775809}',
    b'{"model": "m", "t": ' + b"1" * 5000 + b"}", b'{"model": "m", "model": "n"}',
    b'{"model": "m", "x": {"a": 1, "b": 2, "a": 3}}'
], ids=lambda data: repr(data[:40]))
async def test_malformed_json(client: Client, data: bytes) -> None:
    error = await post_error(client, data)

    assert error["code"] == "invalid_json"
    assert error["param"] is None
    assert "JSON" in error["message"]


def _nested(depth: int) -> str:
    return '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": ' + (
        "[" * (depth - 1) + "]" * (depth - 1) + "}")


@pytest.mark.parametrize("value", ["18446744073709551615", "-9223372036854775808", "1e308",
                                   "-1.5e-320", "0"])
async def test_numbers_within_range_are_accepted(client: Client, value: str) -> None:
    body = '{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": ' + value + "}"
    resp = await client.post("/v1/chat/completions", data=body,
                             headers={"Content-Type": "application/json"})

    assert resp.status == 200


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonx"])
async def test_a_body_not_labelled_json_is_refused(client: Client,
                                                   content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await client.post("/v1/chat/completions", data=json.dumps(GOOD_CHAT).encode(),
                             headers=headers, skip_auto_headers=["Content-Type"])

    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_content_type"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "Application/JSON", "application/vnd.api+json"])
async def test_json_content_types_are_accepted(client: Client, content_type: str) -> None:
    resp = await client.post("/v1/chat/completions", data=json.dumps(GOOD_CHAT).encode(),
                             headers={"Content-Type": content_type})

    assert resp.status == 200


async def test_nesting_up_to_the_limit_is_accepted(client: Client) -> None:
    resp = await client.post("/v1/chat/completions", data=_nested(MAX_DEPTH),
                             headers={"Content-Type": "application/json"})

    assert resp.status == 200


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 100_000])
async def test_nesting_past_the_limit_is_invalid_json(client: Client, depth: int) -> None:
    error = await post_error(client, _nested(depth))

    assert error["code"] == "invalid_json"
    assert f"nested deeper than {MAX_DEPTH} levels" in error["message"]


@pytest.mark.parametrize("data", ["[]", "[1, 2]", '"text"', "3", "null", "true"])
async def test_body_must_be_an_object(client: Client, data: str) -> None:
    error = await post_error(client, data)

    assert error["code"] == "invalid_json"
    assert "object" in error["message"]


MISSING, TYPE, VALUE = "missing_required_parameter", "invalid_type", "invalid_value"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "m"}, "messages", MISSING),
        ({"messages": GOOD_CHAT["messages"]}, "model", MISSING),
        ({**GOOD_CHAT, "model": ""}, "model", VALUE),
        ({**GOOD_CHAT, "model": 5}, "model", TYPE),
        ({**GOOD_CHAT, "messages": "hello"}, "messages", TYPE),
        ({**GOOD_CHAT, "messages": []}, "messages", VALUE),
        ({**GOOD_CHAT, "messages": ["hello"]}, "messages[0]", TYPE),
        ({**GOOD_CHAT, "messages": [{"content": "hi"}]}, "messages[0].role", MISSING),
        ({**GOOD_CHAT, "messages": [{"role": 1, "content": "hi"}]}, "messages[0].role", VALUE),
        ({**GOOD_CHAT, "messages": [{"role": "user", "content": "hi"},
                                    {"role": "wizard", "content": "hi"}]},
         "messages[1].role", VALUE),
        ({**GOOD_CHAT, "messages": [{"role": "user", "content": 5}]}, "messages[0].content",
         TYPE),
        ({**GOOD_CHAT, "max_tokens": "5"}, "max_tokens", TYPE),
        ({**GOOD_CHAT, "max_tokens": 5.5}, "max_tokens", TYPE),
        ({**GOOD_CHAT, "max_tokens": -1}, "max_tokens", VALUE),
        ({**GOOD_CHAT, "stream": "yes"}, "stream", TYPE),
        ({**GOOD_CHAT, "stream": 1}, "stream", TYPE),
        ({**GOOD_CHAT, "temperature": -0.5}, "temperature", VALUE),
        ({**GOOD_CHAT, "functions": "f"}, "functions", TYPE),
        ({**GOOD_CHAT, "tools": [1]}, "tools[0]", TYPE),
        ({**GOOD_CHAT, "tool_choice": 1}, "tool_choice", TYPE),
    ],
)
async def test_schema_errors_name_the_param_as_openai_does(
        client: Client, body: dict[str, Any], param: str, code: str) -> None:
    error = await post_error(client, json.dumps(body))

    assert (error["param"], error["code"]) == (param, code)
    assert f"'{param}'" in error["message"] or "Supported values are" in error["message"]


async def test_an_invalid_role_is_named_with_the_roles_openai_accepts(client: Client) -> None:
    error = await post_error(client, json.dumps(
        {**GOOD_CHAT, "messages": [{"role": "wizard", "content": "hi"}]}))

    assert error == {"message": "Invalid value: 'wizard'. Supported values are: 'system', "
                                "'developer', 'user', 'assistant', 'tool' or 'function'.",
                     "type": "invalid_request_error", "param": "messages[0].role",
                     "code": "invalid_value"}


async def test_valid_body_is_returned_unchanged_with_extra_fields(client: Client) -> None:
    body = {**GOOD_CHAT, "stream": True, "max_tokens": 0, "temperature": 0.7, "top_k": 40,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": None},
                         {"role": "user", "content": [{"type": "text", "text": "hi"}],
                          "name": "bob"}]}

    resp = await client.post("/v1/chat/completions", json=body)

    assert resp.status == 200
    assert await resp.json() == {"body": body}


@pytest.mark.parametrize("prompt", ["hi", ["a", "b"], [1, 2, 3], [[1, 2], [3]]])
async def test_completion_prompt_shapes(client: Client, prompt: Any) -> None:
    resp = await client.post("/v1/completions", json={"model": "m", "prompt": prompt})

    assert resp.status == 200


async def test_completion_prompt_of_wrong_type(client: Client) -> None:
    error = await post_error(client, json.dumps({"model": "m", "prompt": {"a": 1}}),
                             "/v1/completions")

    assert error["param"] is not None and error["param"].startswith("prompt")


async def test_embedding_needs_input(client: Client) -> None:
    error = await post_error(client, json.dumps({"model": "m"}), "/v1/embeddings")

    assert error["param"] == "input"
