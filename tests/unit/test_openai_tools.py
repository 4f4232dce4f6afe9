"""companion/families/openai_tools.py: tool fields in, OpenAI's (and legacy) shapes out, on
the request and reply shapes llama.cpp uses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from companion.core.errors import BadRequestError
from companion.families.openai_tools import ToolReplies, chat_request
from companion.families.translation import WholeReply

WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {}}}
TOOLS = [{"type": "function", "function": WEATHER}, {"type": "function", "function": TIME}]
BASE: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def test_a_body_without_tools_is_unchanged() -> None:
    tools = chat_request(BASE)
    assert (tools.body, tools.uses_tools, tools.legacy) == (BASE, False, False)


def test_named_tool_choice_becomes_required_with_that_tool_only() -> None:
    tools = chat_request({**BASE, "tools": TOOLS,
                          "tool_choice": {"type": "function", "function": {"name": "get_time"}}})
    assert tools.body["tool_choice"] == "required"
    assert tools.body["tools"] == TOOLS[1:]
    assert tools.uses_tools and not tools.legacy


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_string_tool_choice_passes(choice: str) -> None:
    body = {**BASE, "tools": TOOLS, "tool_choice": choice}
    assert chat_request(body).body == body


def test_legacy_functions_become_tools() -> None:
    tools = chat_request({**BASE, "functions": [WEATHER, TIME], "function_call": "auto"})
    assert tools.body == {**BASE, "tools": TOOLS, "tool_choice": "auto"}
    assert tools.legacy


def test_legacy_named_function_call_becomes_required_with_that_tool() -> None:
    tools = chat_request({**BASE, "functions": [WEATHER, TIME],
                          "function_call": {"name": "get_weather"}})
    assert tools.body == {**BASE, "tools": TOOLS[:1], "tool_choice": "required"}


@pytest.mark.parametrize(("fields", "param"), [
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "x"}}},
     "tool_choice"),
    ({"functions": [WEATHER], "function_call": {"name": "x"}}, "function_call"),
])
def test_a_named_tool_that_is_not_offered_is_refused(fields: dict[str, Any],
                                                     param: str) -> None:
    with pytest.raises(BadRequestError) as info:
        chat_request({**BASE, **fields})
    assert info.value.param == param and info.value.code == "invalid_value"


def _whole(message: dict[str, Any], finish: str = "tool_calls") -> WholeReply:
    body = {"object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": finish, "message": message}]}
    return WholeReply(200, "application/json", json.dumps(body).encode())


def _choice(reply: WholeReply) -> dict[str, Any]:
    choice: dict[str, Any] = json.loads(reply.body)["choices"][0]
    return choice


@pytest.mark.parametrize("content", ["", None])
def test_content_is_null_beside_tool_calls(content: str | None) -> None:
    reply = ToolReplies(legacy=False).reply(
        _whole({"role": "assistant", "content": content, "tool_calls": [CALL]}))
    choice = _choice(reply)
    assert choice["message"] == {"role": "assistant", "content": None, "tool_calls": [CALL]}
    assert choice["finish_reason"] == "tool_calls"


def test_text_replies_keep_their_content() -> None:
    message = {"role": "assistant", "content": "hello"}
    assert _choice(ToolReplies(legacy=True).reply(_whole(message, "stop"))) == {
        "index": 0, "finish_reason": "stop", "message": message}


def test_legacy_reply_has_function_call() -> None:
    choice = _choice(ToolReplies(legacy=True).reply(
        _whole({"role": "assistant", "content": "", "tool_calls": [CALL]})))
    assert choice["finish_reason"] == "function_call"
    assert choice["message"] == {"role": "assistant", "content": None,
                                 "function_call": CALL["function"]}


def test_refusals_pass_untouched() -> None:
    refusal = WholeReply(400, "application/json", b'{"error": {"message": "no"}}')
    assert ToolReplies(legacy=True).reply(refusal) is refusal


def _event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return b"data: " + json.dumps({"object": "chat.completion.chunk", "choices": [
        {"index": 0, "finish_reason": finish, "delta": delta}]}).encode() + b"\n\n"


def test_legacy_stream_has_function_call_deltas_even_split_anywhere() -> None:
    stream = b"".join([
        _event({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": ""}}]}),
        _event({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        _event({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        _event({}, "tool_calls"), b"data: [DONE]\n\n"])
    translation = ToolReplies(legacy=True)
    out = b"".join(frame for i in range(0, len(stream), 7)
                   for frame in translation.frames(stream[i:i + 7]))
    out += b"".join(translation.closing_frames())
    events = [json.loads(line[6:]) for line in out.split(b"\n") if line.startswith(b"data: {")]
    deltas = [e["choices"][0]["delta"] for e in events]
    assert deltas[0] == {"role": "assistant", "content": None,
                         "function_call": {"name": "get_weather", "arguments": ""}}
    assert "".join(d["function_call"]["arguments"] for d in deltas[:3]) == '{"city": "Paris"}'
    assert not any("tool_calls" in d for d in deltas)
    assert events[-1]["choices"][0]["finish_reason"] == "function_call"
    assert out.endswith(b"data: [DONE]\n\n")


def test_stream_of_a_current_client_passes_its_tool_calls() -> None:
    event = _event({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]})
    out = b"".join(ToolReplies(legacy=False).frames(event))
    assert json.loads(out.split(b"\n")[0][6:]) == json.loads(event.split(b"\n")[0][6:])


def test_legacy_history_becomes_tool_turns() -> None:
    call = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    messages = [{"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": None, "function_call": call},
                {"role": "function", "name": "get_weather", "content": "sunny"}]
    tools = chat_request({**BASE, "messages": messages, "functions": [WEATHER]})
    assert tools.body["messages"] == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "call_1", "type": "function", "function": call}]},
        {"role": "tool", "name": "get_weather", "content": "sunny", "tool_call_id": "call_1"}]
