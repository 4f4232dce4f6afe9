"""The inference routes' replies, from the real model, match the reply schemas the API
document gives them (``routes/inference_replies.py``). Generated requests (the schemathesis
run) name random models and mostly meet a 404, so these real ones check the 200s: each reply
is validated against the schema taken from ``/openapi.json`` itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from tests.conftest import Companion

MODEL = "smollm2:135m"
HELLO = [{"role": "user", "content": "Say hello."}]
SHORT = {"max_tokens": 8, "temperature": 0}
OLLAMA_SHORT = {"num_predict": 8, "temperature": 0}


@pytest.fixture(scope="module")
def client(shared_companion: Companion, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_companion.url, timeout=120,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


@pytest.fixture(scope="module")
def document(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get("/openapi.json").json())


def check(document: dict[str, Any], method: str, path: str, reply: httpx.Response) -> None:
    """``reply`` is a 200 whose JSON matches the document's schema for it."""
    assert reply.status_code == 200, reply.text
    success = document["paths"][path][method]["responses"]["200"]
    schema = success["content"]["application/json"]["schema"]
    assert schema, f"{method.upper()} {path} documents no reply schema"
    root = {**schema, "components": document["components"]}
    jsonschema.Draft202012Validator(root).validate(reply.json())


def test_a_document_schema_can_refuse_a_reply(document: dict[str, Any]) -> None:
    fake = httpx.Response(200, json={"object": "chat.completion", "choices": []},
                          request=httpx.Request("POST", "http://x"))
    with pytest.raises(jsonschema.ValidationError):
        check(document, "post", "/v1/chat/completions", fake)


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", {"messages": HELLO, **SHORT}),
    ("/v1/completions", {"prompt": "Once upon a time", **SHORT}),
    ("/v1/embeddings", {"input": ["one", "two"]}),
    ("/v1/responses", {"input": "Say hello.", "max_output_tokens": 8, "temperature": 0}),
])
def test_openai_replies_match_the_document(client: httpx.Client, document: dict[str, Any],
                                           path: str, body: dict[str, Any]) -> None:
    check(document, "post", path, client.post(path, json={"model": MODEL, **body}))


@pytest.mark.parametrize(("path", "body"), [
    ("/api/chat", {"messages": HELLO, "stream": False, "options": OLLAMA_SHORT}),
    ("/api/generate", {"prompt": "Once upon a time", "stream": False, "options": OLLAMA_SHORT}),
    ("/api/embed", {"input": ["one", "two"]}),
    ("/api/embeddings", {"prompt": "one"}),
    ("/api/show", {}),
])
def test_ollama_replies_match_the_document(client: httpx.Client, document: dict[str, Any],
                                           path: str, body: dict[str, Any]) -> None:
    check(document, "post", path, client.post(path, json={"model": MODEL, **body}))


@pytest.mark.parametrize("path", ["/api/tags", "/api/ps", "/api/version"])
def test_ollama_lists_match_the_document(client: httpx.Client, document: dict[str, Any],
                                         path: str) -> None:
    client.post("/api/generate", json={"model": MODEL})       # loads it: /api/ps lists one
    reply = client.get(path)
    check(document, "get", path, reply)
    if path != "/api/version":
        assert reply.json()["models"], "an empty list would check no entry"
