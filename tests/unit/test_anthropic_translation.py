"""Anthropic's clients over the OpenAI pivot: requests, whole replies, streams split anywhere,
and round trips through the provider dialect (Anthropic -> OpenAI -> Anthropic)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from companion.core.errors import BadRequestError, UpstreamError
from companion.families import ApiFamily
from companion.families.anthropic import DIALECT, client, wire
from companion.families.translation import WholeReply

WEATHER = {"name": "get_weather", "description": "Weather.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
TIME = {**WEATHER, "name": "get_time"}
CONVERSATION: dict[str, Any] = {
    "model": "m", "max_tokens": 50, "system": "Be brief.", "stop_sequences": ["END"],
    "temperature": 0.5, "top_k": 3, "tools": [WEATHER], "metadata": {"user_id": "u-7"},
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "Weather here?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "iVBORw0KGgo="}}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny."},
            {"type": "text", "text": "And tomorrow?"}]}]}


def test_a_conversation_becomes_an_openai_chat_body() -> None:
    body = client.chat_body(CONVERSATION)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather here?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny."},
        {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]}]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather.", "parameters": WEATHER["input_schema"]}}]
    assert (body["max_tokens"], body["stop"], body["temperature"], body["top_k"]) == (
        50, ["END"], 0.5, 3)
    assert body["user"] == "u-7"
    assert "stream" not in body


def test_streaming_asks_for_usage() -> None:
    body = client.chat_body({"model": "m", "max_tokens": 5, "stream": True,
                             "messages": [{"role": "user", "content": "hi"}]})
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(("choice", "tools", "openai_choice", "extra"), [
    ({"type": "auto"}, ["get_weather", "get_time"], "auto", {}),
    ({"type": "any"}, ["get_weather", "get_time"], "required", {}),
    ({"type": "none"}, ["get_weather", "get_time"], "none", {}),
    ({"type": "tool", "name": "get_time"}, ["get_time"], "required", {}),
    ({"type": "auto", "disable_parallel_tool_use": True}, ["get_weather", "get_time"], "auto",
     {"parallel_tool_calls": False}),
])
def test_tool_choice(choice: dict[str, Any], tools: list[str], openai_choice: str,
                     extra: dict[str, Any]) -> None:
    body = client.chat_body({"model": "m", "max_tokens": 5, "tools": [WEATHER, TIME],
                             "tool_choice": choice,
                             "messages": [{"role": "user", "content": "hi"}]})
    assert [t["function"]["name"] for t in body["tools"]] == tools
    assert body["tool_choice"] == openai_choice
    assert body.get("parallel_tool_calls", None) == extra.get("parallel_tool_calls")


def test_an_unknown_named_tool_is_refused() -> None:
    with pytest.raises(BadRequestError, match=r"tool_choice\.name"):
        client.chat_body({"model": "m", "max_tokens": 5, "tools": [WEATHER],
                          "tool_choice": {"type": "tool", "name": "nope"},
                          "messages": [{"role": "user", "content": "hi"}]})


def test_error_tool_results_url_images_and_documents() -> None:
    body = client.chat_body({"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": "Go."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f",
                                           "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "is_error": True, "content": [
                {"type": "text", "text": "No such city."},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
            {"type": "document", "title": "Notes",
             "source": {"type": "text", "media_type": "text/plain", "data": "Paris."}}]}]})
    assert body["messages"][1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "t1",
                                   "content": "Error: No such city."}
    assert body["messages"][3]["content"] == [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "text", "text": "Notes\n\nParis."}]


def test_a_pdf_document_is_refused_naming_it() -> None:
    with pytest.raises(BadRequestError, match=r"messages\.0\.content\.0"):
        client.chat_body({"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "document", "source": {
                "type": "base64", "media_type": "application/pdf", "data": "JVBER"}}]}]})


@pytest.mark.parametrize(("body", "start"), [
    ({"model": "m", "messages": []}, "max_tokens: Field required"),
    ({"model": "m", "max_tokens": 1, "messages": [{"role": "bot", "content": "x"}]},
     "messages.0.role: Input should be 'user' or 'assistant'"),
    ({"model": "m", "max_tokens": 1, "messages": [
        {"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text.text"),
])
def test_schema_errors_name_the_field_as_anthropic_does(body: dict[str, Any],
                                                        start: str) -> None:
    with pytest.raises(ValidationError) as caught:
        wire.MessagesRequest.model_validate(body)
    assert client.describe_error(caught.value).message.startswith(start)


OPENAI_WHOLE = {
    "id": "chatcmpl-abc", "object": "chat.completion", "model": "m",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}


def test_a_whole_reply_becomes_a_message() -> None:
    whole = client.ReplyTranslator("smol").reply(
        WholeReply(200, "application/json", json.dumps(OPENAI_WHOLE).encode()))
    assert whole.content_type == "application/json"
    assert json.loads(whole.body) == {
        "id": "msg_abc", "type": "message", "role": "assistant", "model": "smol",
        "content": [{"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather",
                     "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 5}}


@pytest.mark.parametrize(("finish", "extra", "reason", "sequence"), [
    ("stop", {}, "end_turn", None), ("length", {}, "max_tokens", None),
    ("stop", {"stopping_word": "END"}, "stop_sequence", "END")])
def test_stop_reasons(finish: str, extra: dict[str, Any], reason: str,
                      sequence: str | None) -> None:
    reply = {"choices": [{"finish_reason": finish, "message": {"content": "x"}, **extra}]}
    message = client.message(reply, "m")
    assert (message["stop_reason"], message["stop_sequence"]) == (reason, sequence)


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + \
        b"data: [DONE]\n\n"


def _delta(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-s1", "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}]}


STREAM = sse(
    _delta({"role": "assistant", "content": None}),
    _delta({"content": "Hel"}), _delta({"content": "lo"}),
    _delta({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"ci"}}]}),
    _delta({"tool_calls": [{"index": 0, "function": {"arguments": "ty\": \"Paris\"}"}}]}),
    _delta({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                            "function": {"name": "get_time", "arguments": "{}"}}]}),
    _delta({}, "tool_calls"),
    {"id": "chatcmpl-s1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}})


@pytest.mark.parametrize("size", [1, 7, 64, len(STREAM)])
def test_a_stream_split_anywhere_gives_anthropics_events_in_order(size: int) -> None:
    translator = client.ReplyTranslator("smol")
    frames: list[bytes] = []
    for start in range(0, len(STREAM), size):
        frames += translator.frames(STREAM[start:start + size])
    frames += translator.closing_frames()
    events = []
    for frame in frames:
        name, data = frame.decode().removesuffix("\n\n").split("\n")
        events.append(json.loads(data.removeprefix("data: ")))
        assert name == f"event: {events[-1]['type']}"
    assert [(e["type"], e.get("index")) for e in events] == [
        ("message_start", None), ("ping", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_delta", 2), ("content_block_stop", 2),
        ("message_delta", None), ("message_stop", None)]
    assert events[0]["message"]["id"] == "msg_s1"
    assert events[6]["content_block"] == {"type": "tool_use", "id": "call_a",
                                          "name": "get_weather", "input": {}}
    assert "".join(e["delta"].get("partial_json", "") for e in events if e.get("index") == 1
                   and e["type"] == "content_block_delta") == '{"city": "Paris"}'
    assert events[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[-2]["usage"] == {"input_tokens": 9, "output_tokens": 4}


def test_an_empty_stream_still_starts_and_stops() -> None:
    translator = client.ReplyTranslator("smol")
    kinds = [json.loads(f.split(b"data: ")[1])["type"] for f in translator.closing_frames()]
    assert kinds == ["message_start", "ping", "message_delta", "message_stop"]


def test_an_error_mid_stream_is_anthropics_error_event() -> None:
    translator = client.ReplyTranslator("smol")
    translator.frames(sse(_delta({"content": "Hi"}))[:-len(b"data: [DONE]\n\n")])
    with pytest.raises(UpstreamError) as caught:
        translator.frames(b'data: {"error": {"message": "context full"}}\n\n')
    frame = ApiFamily.ANTHROPIC.value.stream_error(caught.value)
    assert frame == (b'event: error\ndata: {"type": "error", "error": {"type": "api_error", '
                     b'"message": "The model server failed midway: context full"}}\n\n')


def test_other_families_frames_are_unchanged() -> None:
    assert ApiFamily.OPENAI.value.stream is not None
    assert ApiFamily.OPENAI.value.stream.frame({"type": "x"}) == b'data: {"type": "x"}\n\n'


# Round trips through the provider dialect: what a client of Anthropic's API says reaches an
# Anthropic model as it was said, and the model's answer comes back unchanged.

def test_a_request_survives_the_round_trip() -> None:
    request = DIALECT.chat(client.chat_body(CONVERSATION), "claude-x").body
    assert request is not None
    assert request == {**{k: v for k, v in CONVERSATION.items() if k != "model"},
                       "model": "claude-x"}


def test_a_message_survives_the_round_trip() -> None:
    original = {"id": "msg_42", "type": "message", "role": "assistant", "model": "claude-x",
                "content": [{"type": "text", "text": "Sure."},
                            {"type": "tool_use", "id": "toolu_9", "name": "get_weather",
                             "input": {"city": "Oslo"}}],
                "stop_reason": "tool_use", "stop_sequence": None,
                "usage": {"input_tokens": 20, "output_tokens": 6}}
    openai_reply = DIALECT.chat_reply(json.dumps(original).encode(), "claude-x")
    assert client.message(openai_reply, "claude-x") == original
    stopped = {**original, "content": original["content"][:1],
               "stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert client.message(DIALECT.chat_reply(json.dumps(stopped).encode(), "claude-x"),
                          "claude-x") == stopped
