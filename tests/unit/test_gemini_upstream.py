"""The Gemini ``DIALECT`` against a validating fake of Google's API: each OpenAI-shaped call
becomes a request the fake accepts, and each reply comes back in OpenAI's shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from companion.core.errors import BadRequestError
from companion.families.gemini import DIALECT
from companion.families.provider import (
    KeyRefusals,
    MalformedReply,
    ProviderRequest,
    ProviderStreamError,
)
from tests.fake_gemini import FakeGemini

KEY = "goog-unit-key"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
ASK = [{"role": "system", "content": "Be brief."},
       {"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(KEY) as server:
        yield server


def _send(fake: FakeGemini, call: ProviderRequest, key: str = KEY) -> httpx.Response:
    return httpx.request(call.method, fake.url + call.path, params=call.query,
                         json=call.body, headers=DIALECT.auth_headers(key), timeout=10)


def _chat(fake: FakeGemini, body: dict[str, Any]) -> dict[str, Any]:
    reply = _send(fake, DIALECT.chat(body, "gemini-test"))
    assert reply.status_code == 200, reply.text
    return DIALECT.chat_reply(reply.content, "gemini-test")


def test_a_chat_is_a_generate_content_call(fake: FakeGemini) -> None:
    completion = _chat(fake, {"model": "x", "messages": ASK[1:], "max_tokens": 9,
                              "temperature": 0.2, "stop": "END", "top_p": 0.5, "seed": 3})
    choice = completion["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hello from Gemini."}
    assert choice["finish_reason"] == "stop"
    assert completion["object"] == "chat.completion" and completion["model"] == "gemini-test"
    usage = completion["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    method, path, sent = fake.requests[-1]
    assert (method, path) == ("POST", "/v1beta/models/gemini-test:generateContent")
    assert sent is not None and sent["generationConfig"] == {
        "temperature": 0.2, "topP": 0.5, "maxOutputTokens": 9, "seed": 3,
        "stopSequences": ["END"]}


def test_a_tool_round_trip(fake: FakeGemini) -> None:
    called = _chat(fake, {"model": "x", "messages": ASK, "tools": [WEATHER],
                          "tool_choice": "required"})
    choice = called["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    sent = fake.requests[-1][2] or {}
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == \
        WEATHER["function"]["parameters"]  # type: ignore[index]
    # The result goes back as a functionResponse, named after the call it answers.
    answered = _chat(fake, {"model": "x", "tools": [WEATHER], "messages": [
        *ASK, choice["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": '{"forecast": "sunny"}'}]})
    assert answered["choices"][0]["message"]["content"] == \
        'The get_weather result is {"forecast": "sunny"}.'
    contents = (fake.requests[-1][2] or {})["contents"]
    assert contents[-1] == {"role": "user", "parts": [{"functionResponse": {
        "name": "get_weather", "response": {"forecast": "sunny"}}}]}


def test_a_named_tool_choice_and_json_output(fake: FakeGemini) -> None:
    _chat(fake, {"model": "x", "messages": ASK, "tools": [WEATHER],
                 "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                 "response_format": {"type": "json_schema", "json_schema": {
                     "name": "r", "schema": {"type": "object"}}}})
    sent = fake.requests[-1][2] or {}
    assert sent["toolConfig"]["functionCallingConfig"] == {
        "mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    assert sent["generationConfig"] == {"responseMimeType": "application/json",
                                        "responseJsonSchema": {"type": "object"}}


def test_images_go_as_inline_data(fake: FakeGemini) -> None:
    _chat(fake, {"model": "x", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}]}]})
    parts = (fake.requests[-1][2] or {})["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}


def _stream(fake: FakeGemini, text: str, include_usage: bool = True,
            size: int = 5) -> list[bytes]:
    call = DIALECT.chat({"model": "x", "stream": True,
                         "messages": [{"role": "user", "content": text}]}, "gemini-test")
    assert call.stream and call.query == {"alt": "sse"}
    translator = DIALECT.chat_stream("gemini-test", include_usage)
    frames: list[bytes] = []
    with httpx.stream(call.method, fake.url + call.path, params=call.query, json=call.body,
                      headers=DIALECT.auth_headers(KEY), timeout=10) as reply:
        assert reply.status_code == 200
        for chunk in reply.iter_bytes(size):  # split anywhere
            frames += translator.feed(chunk)
    return [*frames, *translator.close()]


def test_a_stream_becomes_openai_chunks(fake: FakeGemini) -> None:
    frames = _stream(fake, "hi")
    assert frames[-1] == b"data: [DONE]\n\n"
    assert all(f.startswith(b"data: ") and f.endswith(b"\n\n") for f in frames)
    events = [json.loads(f[6:]) for f in frames[:-1]]
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    text = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
    assert text == "Hello from Gemini."
    finishes = [c["finish_reason"] for e in events for c in e["choices"] if c["finish_reason"]]
    assert finishes == ["stop"]
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0
    assert not any("usage" in e for e in json.loads(b"[" + b",".join(
        f[6:] for f in _stream(fake, "hi", include_usage=False)[:-1]) + b"]"))


def test_a_stream_cut_short_or_failing_raises(fake: FakeGemini) -> None:
    with pytest.raises(ProviderStreamError, match="cut short"):
        _stream(fake, "CUT")
    with pytest.raises(ProviderStreamError, match="overloaded"):
        _stream(fake, "STREAM_ERROR")


def test_streamed_tool_calls(fake: FakeGemini) -> None:
    call = DIALECT.chat({"model": "x", "stream": True, "messages": ASK, "tools": [WEATHER]},
                        "gemini-test")
    reply = _send(fake, call)
    translator = DIALECT.chat_stream("gemini-test", False)
    events = [json.loads(f[6:]) for f in [*translator.feed(reply.content),
                                          *translator.close()][:-1]]
    calls = [t for e in events for c in e["choices"] for t in c["delta"].get("tool_calls", [])]
    assert [c["function"]["name"] for c in calls] == ["get_weather"] and calls[0]["id"]
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_embeddings_count_tokens_and_models(fake: FakeGemini) -> None:
    reply = _send(fake, DIALECT.embeddings({"input": ["a", "b"], "dimensions": 8},
                                           "text-embedding-004"))
    listed = DIALECT.embeddings_reply(reply.content, "text-embedding-004")
    assert [d["index"] for d in listed["data"]] == [0, 1] and listed["object"] == "list"
    assert listed["data"][0]["embedding"] != listed["data"][1]["embedding"]
    with pytest.raises(BadRequestError):
        DIALECT.embeddings({"input": [[1, 2]]}, "text-embedding-004")
    plain = _send(fake, DIALECT.count_tokens({"messages": ASK[1:]}, "gemini-test"))
    assert DIALECT.count_tokens_reply(plain.content) == 6
    nested = _send(fake, DIALECT.count_tokens({"messages": ASK, "max_tokens": 3},
                                              "gemini-test"))
    assert DIALECT.count_tokens_reply(nested.content) == 8
    assert "generateContentRequest" in (fake.requests[-1][2] or {})
    models = _send(fake, DIALECT.list_models())
    assert DIALECT.models_reply(models.content) == ["gemini-test", "text-embedding-004"]


def test_provider_errors_give_googles_message(fake: FakeGemini) -> None:
    wrong = _send(fake, DIALECT.chat({"messages": ASK}, "gemini-test"), key="nope")
    assert wrong.status_code == 400
    assert DIALECT.error_message(400, wrong.content) == \
        "API key not valid. Please pass a valid API key."
    missing = _send(fake, DIALECT.chat({"messages": ASK}, "no-such"))
    assert missing.status_code == 404 and "no-such" in DIALECT.error_message(404,
                                                                             missing.content)
    failed = _send(fake, DIALECT.chat({"messages": [{"role": "user", "content": "FAIL"}]},
                                      "gemini-test"))
    assert failed.status_code == 500
    assert DIALECT.error_message(500, b"<html>oops</html>") == "<html>oops</html>"


def test_the_fake_refuses_what_google_refuses(fake: FakeGemini) -> None:
    # So a translation error would fail these tests: unknown fields, roles, lone responses.
    call = DIALECT.chat({"messages": ASK}, "gemini-test")
    for body, words in (
            ({**(call.body or {}), "messages": []}, "Unknown name"),
            ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "valid role"),
            ({"contents": [{"role": "user", "parts": [{"functionResponse": {
                "name": "f", "response": {}}}]}]}, "function response turn")):
        reply = _send(fake, ProviderRequest("POST", call.path, body))
        assert reply.status_code == 400 and words in reply.json()["error"]["message"]


@pytest.mark.parametrize("raw", [b"not json", b'{"candidates": "x"}', b"[]"])
def test_garbage_is_a_malformed_reply(raw: bytes) -> None:
    with pytest.raises(MalformedReply):
        DIALECT.chat_reply(raw, "m")
    translator = DIALECT.chat_stream("m", False)
    with pytest.raises(MalformedReply):
        translator.feed(b"data: " + raw + b"\r\n\r\n")


def test_thought_parts_become_reasoning_content() -> None:
    raw = json.dumps({"candidates": [{"index": 0, "finishReason": "STOP", "content": {
        "role": "model", "parts": [{"text": "hm", "thought": True}, {"text": "4"}]}}]})
    message = DIALECT.chat_reply(raw.encode(), "m")["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("4", "hm")
    translator = DIALECT.chat_stream("m", False)
    frames = [*translator.feed(b"data: " + raw.encode() + b"\r\n\r\n"), *translator.close()]
    deltas = [json.loads(f[6:])["choices"][0]["delta"] for f in frames[:-1]]
    assert {"reasoning_content": "hm"} in deltas and {"content": "4"} in deltas


def test_a_wrong_key_is_known_as_one(fake: FakeGemini) -> None:
    # Google says a wrong key with 400; the providers layer reports it as a refused key.
    wrong = _send(fake, DIALECT.list_models(), key="nope")
    assert isinstance(DIALECT, KeyRefusals)
    assert DIALECT.refused_key(wrong.status_code, wrong.content) is True
    other = _send(fake, ProviderRequest("POST", "/models/gemini-test:generateContent", {}))
    assert other.status_code == 400
    assert DIALECT.refused_key(other.status_code, other.content) is False
    assert DIALECT.refused_key(400, b"garbage") is False


def test_an_error_after_text_in_one_chunk_keeps_the_text() -> None:
    translator = DIALECT.chat_stream("m", False)
    text = {"candidates": [{"index": 0, "content": {"role": "model", "parts": [{"text": "a"}]}}]}
    error = {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
    frames = translator.feed(b"data: " + json.dumps(text).encode() + b"\r\n\r\ndata: " +
                             json.dumps(error).encode() + b"\r\n\r\n")
    assert b'"content": "a"' in b"".join(frames)
    with pytest.raises(ProviderStreamError, match="overloaded"):
        translator.close()
