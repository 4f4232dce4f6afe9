"""Gemini clients over OpenAI-shaped calls: requests become chat bodies, replies (whole or
streamed, split anywhere) become ``GenerateContentResponse`` objects."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from companion.core.errors import BadRequestError, UpstreamError
from companion.families import ApiFamily, family_for
from companion.families.gemini import client, wire
from companion.families.gemini.replies import ReplyTranslator
from companion.families.gemini.schema import to_json_schema
from companion.families.translation import WholeReply

# What google-genai 3.x sends for a turn with an image, a function call and its answer
# (note its snake_case ``mime_type`` inside ``inlineData``, which Google's parser accepts).
SDK_REQUEST: dict[str, Any] = {
    "contents": [
        {"parts": [{"text": "hi"}, {"inlineData": {"data": "iVBORw==", "mime_type": "image/png"}}],
         "role": "user"},
        {"parts": [{"functionCall": {"args": {"a": 1}, "name": "f"}}], "role": "model"},
        {"parts": [{"functionResponse": {"name": "f", "response": {"r": 2}}}], "role": "user"}],
    "systemInstruction": {"parts": [{"text": "sys"}], "role": "user"},
    "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}],
    "tools": [{"functionDeclarations": [
        {"description": "d", "name": "f",
         "parameters": {"properties": {"a": {"type": "INTEGER"}}, "type": "OBJECT"}},
        {"name": "g", "parameters_json_schema": {"type": "object"}}]}],
    "toolConfig": {"functionCallingConfig": {"allowedFunctionNames": ["f"], "mode": "ANY"}},
    "generationConfig": {"temperature": 0.5, "maxOutputTokens": 10, "stopSequences": ["x"],
                         "seed": 1, "topK": 3, "responseMimeType": "application/json",
                         "responseSchema": {"type": "OBJECT", "nullable": True,
                                            "propertyOrdering": ["a"]}}}


def _body(request: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    return client.chat_body(wire.GenerateContentRequest.model_validate(request), "m", stream)


def test_an_sdk_request_becomes_an_openai_chat_body() -> None:
    body = _body(SDK_REQUEST)
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [
            {"type": "text", "text": "hi"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "f", "arguments": '{"a": 1}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "name": "f", "content": '{"r": 2}'}]
    # ANY with allowedFunctionNames: required, and only the allowed tools.
    assert body["tool_choice"] == "required"
    assert body["tools"] == [{"type": "function", "function": {
        "name": "f", "description": "d",
        "parameters": {"properties": {"a": {"type": "integer"}}, "type": "object"}}}]
    assert (body["temperature"], body["max_tokens"], body["stop"], body["seed"],
            body["top_k"]) == (0.5, 10, ["x"], 1, 3)
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "response", "schema": {"type": ["object", "null"]}}}
    assert "stream" not in body


def test_streaming_asks_for_the_usage() -> None:
    body = _body({"contents": [{"parts": [{"text": "hi"}]}]}, stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_tool_config_modes() -> None:
    tools = [{"functionDeclarations": [{"name": "f"}]}]
    for mode, choice in (("NONE", "none"), ("AUTO", "auto"), ("VALIDATED", "auto")):
        body = _body({"contents": [{"parts": [{"text": "x"}]}], "tools": tools,
                      "toolConfig": {"functionCallingConfig": {"mode": mode}}})
        assert body["tool_choice"] == choice


def test_function_responses_pair_with_calls_by_id_then_name() -> None:
    request = {"contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {}}},
                                    {"functionCall": {"name": "b", "id": "xb"}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "b", "id": "xb",
                                                         "response": {}}},
                                   {"functionResponse": {"name": "a", "response": {}}}]}]}
    messages = _body(request)["messages"]
    assert [m.get("tool_call_id") for m in messages[2:]] == ["xb", "call_1"]
    # A response whose id matches nothing is paired by its name.
    request["contents"][2]["parts"][0]["functionResponse"]["id"] = "stale"
    messages = _body(request)["messages"]
    assert [m.get("tool_call_id") for m in messages[2:]] == ["xb", "call_1"]


def test_several_parts_stay_parts() -> None:
    request = {"contents": [{"parts": [{"text": "a"}, {"text": "b"}, {"inlineData": {
        "mimeType": "audio/wav", "data": "UklG"}}]}]}
    assert _body(request)["messages"][0]["content"] == [
        {"type": "text", "text": "a"}, {"type": "text", "text": "b"},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}}]


def test_a_function_response_without_a_call_is_400() -> None:
    request = {"contents": [{"role": "user", "parts": [
        {"functionResponse": {"name": "a", "response": {}}}]}]}
    with pytest.raises(BadRequestError, match=re.escape("contents[0].parts[0]")):
        _body(request)


@pytest.mark.parametrize(("request_body", "where"), [
    ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "contents[0].role"),
    ({"contents": []}, "contents"),
    ({"contents": [{"parts": [{"text": "x", "inlineData": {"mimeType": "a", "data": ""}}]}]},
     "contents[0].parts[0]"),
    ({"contents": [{"parts": [{"text": 3}]}]}, "contents[0].parts[0].text"),
    ({}, "contents"),
])
def test_validation_errors_name_the_field(request_body: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        wire.GenerateContentRequest.model_validate(request_body)
    error = client.describe_error(caught.value)
    assert error.status == 400 and error.param == where, error.message
    assert where in error.message
    rendered = ApiFamily.GEMINI.value.error_body(error)
    assert rendered["error"]["status"] == "INVALID_ARGUMENT" and rendered["error"]["code"] == 400


def test_google_tools_and_other_mime_types_are_refused() -> None:
    with pytest.raises(BadRequestError, match="functionDeclarations"):
        _body({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"googleSearch": {}}]})
    with pytest.raises(BadRequestError, match=re.escape("text/x.enum")):
        _body({"contents": [{"parts": [{"text": "x"}]}],
               "generationConfig": {"responseMimeType": "text/x.enum"}})


def test_count_tokens_takes_either_form() -> None:
    plain = wire.CountTokensRequest.model_validate({"contents": [{"parts": [{"text": "x"}]}]})
    assert client.count_body(plain, "m")["messages"] == [{"role": "user", "content": "x"}]
    nested = wire.CountTokensRequest.model_validate({"generateContentRequest": {
        "model": "models/m", "contents": [{"parts": [{"text": "x"}]}],
        "systemInstruction": {"parts": [{"text": "s"}]}}})
    assert client.count_body(nested, "m")["messages"][0] == {"role": "system", "content": "s"}
    with pytest.raises(ValidationError):
        wire.CountTokensRequest.model_validate({})


def test_embed_requests_become_one_embeddings_call() -> None:
    batch = wire.BatchEmbedContentsRequest.model_validate({"requests": [
        {"model": "models/e", "content": {"parts": [{"text": "a"}, {"text": "b"}]},
         "outputDimensionality": 8},
        {"model": "models/e", "content": {"parts": [{"text": "c"}]}, "outputDimensionality": 8}]})
    assert client.embed_body(batch.requests, "e") == {"model": "e", "input": ["a\nb", "c"]}
    other = wire.EmbedContentRequest.model_validate({"model": "models/x",
                                                     "content": {"parts": [{"text": "a"}]}})
    with pytest.raises(BadRequestError, match=re.escape("requests[0].model")):
        client.embed_body([other], "e")
    reply = {"data": [{"index": 1, "embedding": [2.0] * 10},
                      {"index": 0, "embedding": [1.0] * 10}]}
    assert client.embeddings(reply, batch.requests) == [{"values": [1.0] * 8},
                                                        {"values": [2.0] * 8}]


def test_schema_conversion_is_recursive() -> None:
    schema = {"type": "OBJECT", "properties": {"xs": {"type": "ARRAY", "items": {
        "type": "STRING", "enum": ["a"]}}, "n": {"anyOf": [{"type": "NUMBER"}]}},
        "required": ["xs"]}
    assert to_json_schema(schema) == {"type": "object", "properties": {
        "xs": {"type": "array", "items": {"type": "string", "enum": ["a"]}},
        "n": {"anyOf": [{"type": "number"}]}}, "required": ["xs"]}


COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "model": "m", "choices": [
    {"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}


def test_a_whole_reply_becomes_a_generate_content_response() -> None:
    whole = ReplyTranslator("m").reply(WholeReply(200, "application/json",
                                                  json.dumps(COMPLETION).encode()))
    reply = wire.GenerateContentResponse.model_validate_json(whole.body)
    candidate = (reply.candidates or [])[0]
    assert candidate.finish_reason == "STOP" and candidate.content is not None
    call = candidate.content.parts[0].function_call
    assert call is not None and (call.name, call.args, call.id) == (
        "get_weather", {"city": "Paris"}, "c1")
    assert reply.usage_metadata == wire.UsageMetadata(
        prompt_token_count=5, candidates_token_count=7, total_token_count=12)
    assert reply.response_id == "chatcmpl-1" and reply.model_version == "m"
    assert whole.content_type.startswith("application/json")


def test_length_is_max_tokens_and_arrays_hold_one_response() -> None:
    reply = {"choices": [{"index": 0, "finish_reason": "length",
                          "message": {"role": "assistant", "content": "Hel"}}]}
    whole = ReplyTranslator("m", array=True).reply(
        WholeReply(200, "application/json", json.dumps(reply).encode()))
    [response] = json.loads(whole.body)
    assert response["candidates"][0] == {"content": {"role": "model", "parts": [
        {"text": "Hel"}]}, "finishReason": "MAX_TOKENS", "index": 0}


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + \
        b"data: [DONE]\n\n"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-9", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


STREAM = _sse(
    _chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hel"}),
    _chunk({"content": "lo"}),
    _chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                            "function": {"name": "get_", "arguments": '{"ci'}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"name": "weather",
                                                      "arguments": 'ty": "Paris"}'}}]}),
    _chunk({}, "tool_calls"),
    {"id": "chatcmpl-9", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4,
                                                  "total_tokens": 7}})


def _translate(data: bytes, size: int) -> list[dict[str, Any]]:
    translator = ReplyTranslator("m")
    frames: list[bytes] = []
    for start in range(0, len(data), size):
        frames += translator.frames(data[start:start + size])
    frames += translator.closing_frames()
    for frame in frames:  # Google's framing: one event, CRLF CRLF
        assert frame.startswith(b"data: ") and frame.endswith(b"\r\n\r\n"), frame
    return [json.loads(f[6:]) for f in frames]


@pytest.mark.parametrize("size", [1, 7, 64, 100000])
def test_a_stream_split_anywhere_gives_the_same_responses(size: int) -> None:
    events = _translate(STREAM, size)
    texts = [e["candidates"][0]["content"]["parts"][0].get("text") for e in events[:-1]]
    assert texts == ["Hel", "lo"]
    last = events[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}}]
    assert last["usageMetadata"] == {"promptTokenCount": 3, "candidatesTokenCount": 4,
                                     "totalTokenCount": 7}
    assert all(wire.GenerateContentResponse.model_validate(e) for e in events)
    assert {e["responseId"] for e in events} == {"chatcmpl-9"}


def test_an_error_event_mid_stream_raises_for_the_relay() -> None:
    translator = ReplyTranslator("m")
    assert translator.frames(b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}'
                             b'\n\n')
    with pytest.raises(UpstreamError, match="boom"):
        translator.frames(b'data: {"error": {"code": 500, "message": "boom"}}\n\n')
    # In the same chunk as text before it: the text goes out first, then the error.
    translator = ReplyTranslator("m")
    frames = translator.frames(b'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}'
                               b'\n\ndata: {"error": {"message": "boom"}}\n\n')
    assert len(frames) == 1 and b'"a"' in frames[0]
    with pytest.raises(UpstreamError, match="boom"):
        translator.closing_frames()
    frame = ApiFamily.GEMINI.value.stream_error(UpstreamError("boom"))
    assert frame.endswith(b"\r\n\r\n")
    assert json.loads(frame[6:]) == {"error": {"code": 502, "message": "boom",
                                               "status": "INTERNAL"}}


def test_the_family_claims_v1beta_and_takes_goog_keys() -> None:
    family = family_for("/v1beta/models/x:generateContent")
    assert family is ApiFamily.GEMINI
    assert family.value.credential_headers == ("x-goog-api-key",)
    assert family.value.credential_query == "key"
    entry = client.model_entry("owner/repo:Q4_K_M")
    assert entry["name"] == "models/owner/repo:Q4_K_M"
    assert "generateContent" in entry["supportedGenerationMethods"]


def test_thinking_becomes_thought_parts() -> None:
    reply = {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "4", "reasoning_content": "2+2"}}]}
    whole = ReplyTranslator("m").reply(WholeReply(200, "application/json",
                                                  json.dumps(reply).encode()))
    parts = json.loads(whole.body)["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "2+2", "thought": True}, {"text": "4"}]
    events = _translate(_sse(_chunk({"reasoning_content": "hm"}), _chunk({"content": "ok"}),
                             _chunk({}, "stop")), 9)
    assert events[0]["candidates"][0]["content"]["parts"] == [{"text": "hm", "thought": True}]
