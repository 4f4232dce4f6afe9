"""Tool calls through the OpenAI routes: the real companion, the embedded model, and an alias
that serves the same file with a Qwen2.5-style template that can render tools."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.conftest import Companion
from tests.integration.test_openai_api import HELLO, MODEL, _cache_model, client  # noqa: F401

TOOLS_ALIAS = "smol-tools"
TEMPLATE = Path(__file__).with_name("qwen_tools.jinja")
WEATHER: dict[str, Any] = {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}
TIME: dict[str, Any] = {
    "name": "get_time", "description": "The time in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}
TOOLS = [{"type": "function", "function": WEATHER}, {"type": "function", "function": TIME}]
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def tools_alias(shared_companion: Companion, model_path: Path) -> str:
    _cache_model(shared_companion.hf_home, model_path, "test-org/smol", "c0ffee")
    flags = shlex.join(["--chat-template", TEMPLATE.read_text()])
    (shared_companion.home / "aliases" / f"{TOOLS_ALIAS}.yaml").write_text(yaml.safe_dump(
        {"alias": TOOLS_ALIAS, "repo": "test-org/smol", "filename": model_path.name,
         "context_params": ["--ctx-size 2048", "--parallel 1", flags]}))
    return TOOLS_ALIAS


def _post(companion: Companion, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(companion.url + "/v1/chat/completions", json=body, timeout=120,
                      headers={"Authorization": f"Bearer {token}"})


def test_tools_to_a_template_without_tools_are_400(shared_companion: Companion,
                                                   token: str) -> None:
    reply = _post(shared_companion, token, {"model": MODEL, "messages": ASK, "tools": TOOLS,
                                            "max_tokens": 4})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error", "tools_not_supported", "tools")
    assert MODEL in error["message"]


def _prompt_tokens(companion: Companion, token: str, alias: str, **fields: Any) -> int:
    reply = _post(companion, token, {"model": alias, "messages": ASK, "max_tokens": 1,
                                     "temperature": 0, **fields})
    assert reply.status_code == 200, reply.text
    tokens: int = reply.json()["usage"]["prompt_tokens"]
    return tokens


# The template writes every tool the child gets into the prompt, so the prompt's length shows
# which tools reached the model. (This build of llama.cpp does not hold SmolLM2 to a call with
# ``required``, so which tool it calls cannot show it.)
def test_tools_on_the_responses_api_to_a_template_without_tools_are_400(
        shared_companion: Companion, token: str) -> None:
    reply = httpx.post(shared_companion.url + "/v1/responses", timeout=120,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"model": MODEL, "input": "Weather in Paris?",
                             "tools": [{"type": "function", **WEATHER}]})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "tools_not_supported"


def test_named_tool_choice_sends_only_that_tool(shared_companion: Companion, token: str,
                                                tools_alias: str) -> None:
    def tokens(**fields: Any) -> int:
        return _prompt_tokens(shared_companion, token, tools_alias, **fields)

    both = tokens(tools=TOOLS)
    only_time = tokens(tools=TOOLS[1:], tool_choice="required")
    named = tokens(tools=TOOLS, tool_choice={"type": "function",
                                              "function": {"name": "get_time"}})
    assert named == only_time < both


def test_legacy_functions_reach_the_model_as_tools(shared_companion: Companion, token: str,
                                                   tools_alias: str) -> None:
    def tokens(**fields: Any) -> int:
        return _prompt_tokens(shared_companion, token, tools_alias, **fields)

    assert tokens(functions=[WEATHER, TIME]) == tokens(tools=TOOLS) > tokens()
    assert tokens(functions=[WEATHER, TIME], function_call={"name": "get_time"}) == tokens(
        tools=TOOLS[1:])


def test_a_legacy_conversation_reaches_the_model_as_tool_turns(
        shared_companion: Companion, token: str, tools_alias: str) -> None:
    call = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    legacy = [*ASK, {"role": "assistant", "content": None, "function_call": call},
              {"role": "function", "name": "get_weather", "content": "Sunny, 21 C."}]
    current = [*ASK, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": call}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C."}]

    def tokens(**fields: Any) -> int:
        return _prompt_tokens(shared_companion, token, tools_alias, **fields)

    assert tokens(messages=legacy, functions=[WEATHER]) == tokens(
        messages=current, tools=TOOLS[:1]) > tokens(tools=TOOLS[:1])


# SmolLM2 calls a tool when its answer is begun for it (an assistant prefill that opens a
# ``<tool_call>``); stopping at the close gives exactly one call, which llama.cpp parses into
# ``tool_calls`` (with ``content: ""``).
CALLING: dict[str, Any] = {
    "messages": [*ASK, {"role": "assistant",
                        "content": '<tool_call>\n{"name": "get_weather", "arguments": {"city'}],
    "stop": ["</tool_call>"], "max_tokens": 40, "temperature": 0}


def test_a_tool_call_has_null_content(client: openai.OpenAI,  # noqa: F811
                                      tools_alias: str) -> None:
    reply = client.chat.completions.create(model=tools_alias, tools=TOOLS, **CALLING)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls and choice.message.tool_calls[0].type == "function"
    call = choice.message.tool_calls[0].function
    assert call.name == "get_weather" and isinstance(json.loads(call.arguments), dict)


def test_legacy_functions_answer_with_function_call(client: openai.OpenAI,  # noqa: F811
                                                    tools_alias: str) -> None:
    reply = client.chat.completions.create(model=tools_alias, functions=[WEATHER, TIME],
                                           **CALLING)
    choice = reply.choices[0]
    assert choice.finish_reason == "function_call"
    assert choice.message.tool_calls is None and choice.message.content is None
    assert choice.message.function_call is not None
    assert choice.message.function_call.name == "get_weather"
    assert isinstance(json.loads(choice.message.function_call.arguments), dict)


def test_legacy_functions_stream_function_call_deltas(client: openai.OpenAI,  # noqa: F811
                                                      tools_alias: str) -> None:
    chunks = list(client.chat.completions.create(model=tools_alias, functions=[WEATHER],
                                                 stream=True, **CALLING))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert not any(d.tool_calls for d in deltas)
    calls = [d.function_call for d in deltas if d.function_call]
    assert calls and calls[0].name == "get_weather"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "function_call"
    # The same arguments as the tool-call deltas of the same request in today's form
    # (llama.cpp streams only what follows the prefill).
    current = list(client.chat.completions.create(model=tools_alias, tools=TOOLS[:1],
                                                  stream=True, **CALLING))
    pieces = [call.function.arguments or "" for c in current if c.choices
              for call in c.choices[0].delta.tool_calls or [] if call.function]
    assert "".join(c.arguments or "" for c in calls) == "".join(pieces) != ""


def test_unknown_named_tool_is_400(shared_companion: Companion, token: str,
                                   tools_alias: str) -> None:
    reply = _post(shared_companion, token, {
        "model": tools_alias, "messages": ASK, "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "nope"}}})
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "tool_choice"
