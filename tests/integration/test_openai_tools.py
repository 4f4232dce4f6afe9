"""Tool calls through the OpenAI routes: the real companion, the embedded model, and an alias
that serves the same file with a Qwen2.5-style template that can render tools."""

from __future__ import annotations

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
# which tools reached the model. (This build of llama.cpp does not hold SmolLM2 to a call, even
# with ``required``, so the calls themselves cannot be asserted here; ``ToolReplies`` is tested
# on llama.cpp's reply shapes in tests/unit/test_openai_tools.py.)
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


def test_the_sdk_gets_a_reply_to_a_named_tool_choice(client: openai.OpenAI,  # noqa: F811
                                                     tools_alias: str) -> None:
    reply = client.chat.completions.create(
        model=tools_alias, messages=ASK, tools=TOOLS, max_tokens=8, temperature=0,
        tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    if choice.message.tool_calls:  # when the model does call, OpenAI's shape
        assert choice.message.content is None and choice.finish_reason == "tool_calls"
        assert choice.message.tool_calls[0].function.name == "get_weather"


def test_unknown_named_tool_is_400(shared_companion: Companion, token: str,
                                   tools_alias: str) -> None:
    reply = _post(shared_companion, token, {
        "model": tools_alias, "messages": ASK, "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "nope"}}})
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "tool_choice"
