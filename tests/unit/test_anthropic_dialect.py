"""The Anthropic provider dialect against a fake of Anthropic's API that validates every
request (``tests/fake_anthropic.py``); its replies are read back with the OpenAI SDK's own types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from companion.core.errors import BadRequestError
from companion.families.anthropic import DIALECT
from companion.families.anthropic.upstream import DEFAULT_MAX_TOKENS
from companion.families.provider import MalformedReply, ProviderRequest, ProviderStreamError
from tests.fake_anthropic import MODELS, FakeAnthropic

KEY = "sk-ant-unit"
TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(KEY).start()
    try:
        yield server
    finally:
        server.stop()


def send(fake: FakeAnthropic, request: ProviderRequest, key: str = KEY) -> httpx.Response:
    return httpx.request(request.method, fake.url + request.path, json=request.body,
                         params=request.query, headers=DIALECT.auth_headers(key), timeout=10)


def chat(fake: FakeAnthropic, body: dict[str, Any], model: str = "claude-text"
         ) -> ChatCompletion:
    reply = send(fake, DIALECT.chat(body, model))
    assert reply.status_code == 200, reply.text
    return ChatCompletion.model_validate(DIALECT.chat_reply(reply.content, model))


def stream(fake: FakeAnthropic, body: dict[str, Any], model: str, size: int = 13,
           include_usage: bool = True) -> list[bytes]:
    request = DIALECT.chat({**body, "stream": True}, model)
    assert request.stream
    translator = DIALECT.chat_stream(model, include_usage)
    frames: list[bytes] = []
    with httpx.stream(request.method, fake.url + request.path, json=request.body,
                      headers=DIALECT.auth_headers(KEY), timeout=10) as reply:
        assert reply.status_code == 200
        for chunk in reply.iter_bytes(size):
            frames += translator.feed(chunk)
    return [*frames, *translator.close()]


def chunks(frames: list[bytes]) -> list[ChatCompletionChunk]:
    assert frames[-1] == b"data: [DONE]\n\n"
    assert all(f.startswith(b"data: ") and f.endswith(b"\n\n") for f in frames)
    return [ChatCompletionChunk.model_validate_json(f[6:]) for f in frames[:-1]]


def test_a_text_reply(fake: FakeAnthropic) -> None:
    reply = chat(fake, {"model": "x", "messages": ASK, "max_tokens": 20})
    assert reply.choices[0].message.content == "Hello from Claude."
    assert reply.choices[0].finish_reason == "stop" and reply.id.startswith("chatcmpl-")
    assert reply.usage is not None and reply.usage.completion_tokens == 7
    assert fake.requests[-1]["max_tokens"] == 20


def test_max_tokens_defaults_and_limits(fake: FakeAnthropic) -> None:
    chat(fake, {"model": "x", "messages": ASK})
    assert fake.requests[-1]["max_tokens"] == DEFAULT_MAX_TOKENS
    reply = chat(fake, {"model": "x", "messages": ASK, "max_completion_tokens": 2})
    assert reply.choices[0].finish_reason == "length"


def test_system_turns_merge_stop_and_sampling(fake: FakeAnthropic) -> None:
    reply = chat(fake, {"model": "x", "stop": "END", "temperature": 1.7, "top_p": 0.9,
                        "user": "u1", "messages": [
                            {"role": "system", "content": "Be brief."},
                            {"role": "developer", "content": [{"type": "text", "text": "Kind."}]},
                            {"role": "user", "content": "One."},
                            {"role": "user", "content": [
                                {"type": "text", "text": "Two."},
                                {"type": "image_url",
                                 "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]})
    sent = fake.requests[-1]
    assert sent["system"] == "Be brief.\n\nKind."
    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert [b["type"] for b in sent["messages"][0]["content"]] == ["text", "text", "image"]
    assert (sent["stop_sequences"], sent["temperature"], sent["metadata"]) == (
        ["END"], 1.0, {"user_id": "u1"})
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].model_extra == {"stopping_word": "END"}


def test_a_tool_call_round_trip(fake: FakeAnthropic) -> None:
    body = {"model": "x", "messages": ASK, "tools": [TOOL], "tool_choice": "required",
            "parallel_tool_calls": False}
    first = chat(fake, body, "claude-tools")
    assert fake.requests[-1]["tool_choice"] == {"type": "any",
                                                "disable_parallel_tool_use": True}
    assert fake.requests[-1]["tools"][0]["input_schema"] == TOOL["function"]["parameters"]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    history = [*ASK, first.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": calls[0].id, "content": "Sunny."}]
    second = chat(fake, {"model": "x", "messages": history, "tools": [TOOL]}, "claude-tools")
    assert second.choices[0].message.content == "It is sunny."
    result = fake.requests[-1]["messages"][-1]["content"][0]
    assert result == {"type": "tool_result", "tool_use_id": calls[0].id, "content": "Sunny."}


def test_anthropic_only_members_pass_through(fake: FakeAnthropic) -> None:
    """A record's ``extra_body`` reaches Anthropic when it names Anthropic's own members;
    OpenAI-only members never do (the fake forbids unknown members)."""
    thinking = {"type": "enabled", "budget_tokens": 1024}
    request = DIALECT.chat({"model": "x", "messages": ASK, "thinking": thinking, "n": 1,
                            "frequency_penalty": 0.5, "logprobs": True}, "claude-text")
    assert request.body is not None and request.body["thinking"] == thinking
    assert not {"n", "frequency_penalty", "logprobs"} & set(request.body)


def test_named_tool_choice(fake: FakeAnthropic) -> None:
    chat(fake, {"model": "x", "messages": ASK, "tools": [TOOL], "tool_choice": {
        "type": "function", "function": {"name": "get_weather"}}}, "claude-tools")
    assert fake.requests[-1]["tool_choice"] == {"type": "tool", "name": "get_weather"}


@pytest.mark.parametrize("size", [1, 13, 4096])
def test_a_stream_split_anywhere(fake: FakeAnthropic, size: int) -> None:
    parts = chunks(stream(fake, {"model": "x", "messages": ASK}, "claude-text", size))
    assert parts[0].choices[0].delta.role == "assistant"
    text = "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
    assert text == "Hello from Claude."
    assert [p.choices[0].finish_reason for p in parts if p.choices][-1] == "stop"
    assert parts[-1].choices == [] and parts[-1].usage is not None
    assert parts[-1].usage.completion_tokens == 7
    assert len({p.id for p in parts}) == 1


def test_a_stream_without_usage(fake: FakeAnthropic) -> None:
    parts = chunks(stream(fake, {"model": "x", "messages": ASK}, "claude-text",
                          include_usage=False))
    assert all(p.usage is None and p.choices for p in parts)


def test_a_streamed_tool_call(fake: FakeAnthropic) -> None:
    parts = chunks(stream(fake, {"model": "x", "messages": ASK, "tools": [TOOL]},
                          "claude-tools"))
    calls = [c for p in parts if p.choices for c in p.choices[0].delta.tool_calls or []]
    assert calls[0].id == "toolu_01A09q90qw90lq917835lq9" and calls[0].index == 0
    assert calls[0].function is not None and calls[0].function.name == "get_weather"
    arguments = "".join(c.function.arguments or "" for c in calls if c.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert [p.choices[0].finish_reason for p in parts if p.choices][-1] == "tool_calls"


def test_an_error_event_mid_stream(fake: FakeAnthropic) -> None:
    with pytest.raises(ProviderStreamError, match="Overloaded"):
        stream(fake, {"model": "x", "messages": ASK}, "claude-broken-stream")


def test_malformed_replies(fake: FakeAnthropic) -> None:
    reply = send(fake, DIALECT.chat({"model": "x", "messages": ASK}, "claude-garbage"))
    with pytest.raises(MalformedReply):
        DIALECT.chat_reply(reply.content, "claude-garbage")
    translator = DIALECT.chat_stream("m", True)
    with pytest.raises(MalformedReply):
        translator.feed(b"event: message_start\ndata: {\"type\": \"message_start\"}\n\n")
    with pytest.raises(MalformedReply):
        DIALECT.chat_stream("m", True).feed(b"data: not json\n\n")


def test_count_tokens_and_models(fake: FakeAnthropic) -> None:
    reply = send(fake, DIALECT.count_tokens({"model": "x", "messages": ASK, "max_tokens": 9,
                                             "tools": [TOOL]}, "claude-text"))
    assert reply.status_code == 200, reply.text
    assert DIALECT.count_tokens_reply(reply.content) > 10
    models = send(fake, DIALECT.list_models())
    assert DIALECT.models_reply(models.content) == MODELS


def test_a_wrong_key_and_errors(fake: FakeAnthropic) -> None:
    reply = send(fake, DIALECT.chat({"model": "x", "messages": ASK}, "claude-text"), "wrong")
    assert reply.status_code == 401
    assert DIALECT.error_message(401, reply.content) == "invalid x-api-key"
    missing = send(fake, DIALECT.chat({"model": "x", "messages": ASK}, "claude-nope"))
    assert missing.status_code == 404
    assert DIALECT.error_message(404, missing.content) == "model: claude-nope"
    assert DIALECT.error_message(502, b"<html>bad gateway</html>") == "<html>bad gateway</html>"


def test_no_embeddings() -> None:
    with pytest.raises(BadRequestError, match="no embeddings"):
        DIALECT.embeddings({"model": "x", "input": "hi"}, "claude-text")


def test_the_fake_is_strict(fake: FakeAnthropic) -> None:
    """The checks that make the tests above mean something."""
    def post(body: dict[str, Any], **headers: str) -> httpx.Response:
        return httpx.post(fake.url + "/messages", json=body, timeout=10, headers={
            "x-api-key": KEY, "anthropic-version": "2023-06-01", **headers})

    good = {"model": "claude-text", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]}
    assert post(good).status_code == 200
    no_version = httpx.post(fake.url + "/messages", json=good, headers={"x-api-key": KEY})
    assert no_version.status_code == 400
    for bad in ({k: v for k, v in good.items() if k != "max_tokens"},
                {**good, "messages": [{"role": "system", "content": "hi"}]},
                {**good, "messages": [good["messages"][0], good["messages"][0]]},
                {**good, "frequency_penalty": 1},
                {**good, "messages": [{"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}]}):
        reply = post(bad)
        assert reply.status_code == 400, bad
        assert reply.json()["error"]["type"] == "invalid_request_error"
