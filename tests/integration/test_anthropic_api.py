"""The official ``anthropic`` SDK, unchanged, against a real companion and the real model:
both base URLs (``/anthropic`` and the bare host for ``/v1/messages``), streams, token counts,
a tool-use round trip on the tools alias, models, and errors in Anthropic's envelope."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import Companion
from tests.integration.test_openai_api import MODEL
from tests.integration.test_openai_tools import tools_alias  # noqa: F401

HELLO: list[Any] = [{"role": "user", "content": "Say hello."}]
WEATHER: Any = {"name": "get_weather", "description": "The weather in a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}}
ASK: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
# SmolLM2 calls a tool when its answer is begun for it: with Anthropic's API a last assistant
# message is that prefill (see test_openai_tools.py).
# Anthropic's SDK 2.x no longer takes sampling options as arguments; its API still does.
COLD: Any = {"temperature": 0}
PREFILL = '<tool_call>\n{"name": "get_weather", "arguments": {"city'


@pytest.fixture(params=["/anthropic", ""], ids=["anthropic-base", "bare-host"])
def client(request: pytest.FixtureRequest, shared_companion: Companion,
           token: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=shared_companion.url + request.param, api_key=token,
                             max_retries=0, timeout=120) as sdk:
        yield sdk


@pytest.fixture
def sdk(shared_companion: Companion, token: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=shared_companion.url + "/anthropic", api_key=token,
                             max_retries=0, timeout=120) as sdk:
        yield sdk


def test_create_answers_a_message(client: anthropic.Anthropic) -> None:
    reply = client.messages.create(model=MODEL, max_tokens=8, messages=HELLO, extra_body=COLD,
                                   system="You are brief.")
    assert reply.id.startswith("msg_") and reply.type == "message"
    assert reply.role == "assistant" and reply.model == MODEL
    assert reply.content and reply.content[0].type == "text" and reply.content[0].text
    assert reply.stop_reason in ("end_turn", "max_tokens")
    assert reply.usage.input_tokens > 0 and 0 < reply.usage.output_tokens <= 8


def test_max_tokens_stops_with_max_tokens(sdk: anthropic.Anthropic) -> None:
    reply = sdk.messages.create(model=MODEL, max_tokens=2, extra_body=COLD, messages=[
        {"role": "user", "content": "Write a long story about a dragon."}])
    assert reply.stop_reason == "max_tokens" and reply.usage.output_tokens == 2


def test_stream_gives_events_in_order_and_the_final_message(
        client: anthropic.Anthropic) -> None:
    with client.messages.stream(model=MODEL, max_tokens=16, messages=HELLO,
                                extra_body=COLD) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds[-2] == "message_delta"
    assert "content_block_start" in kinds and "content_block_stop" in kinds
    assert kinds.index("content_block_start") < kinds.index("content_block_stop")
    assert final.content and final.content[0].type == "text" and final.content[0].text
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert final.usage.input_tokens > 0 and 0 < final.usage.output_tokens <= 16


def test_raw_stream_names_each_event(shared_companion: Companion, token: str) -> None:
    with httpx.stream("POST", shared_companion.url + "/v1/messages", timeout=120,
                      headers={"x-api-key": token, "anthropic-version": "2023-06-01"},
                      json={"model": MODEL, "max_tokens": 4, "stream": True,
                            "messages": HELLO}) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        text = reply.read().decode()
    events = [e for e in text.split("\n\n") if e.strip()]
    for event in events:
        name, data = event.split("\n")
        assert name.removeprefix("event: ") == json.loads(data.removeprefix("data: "))["type"]
    assert events[1].startswith("event: ping")


def test_count_tokens_matches_the_prompt(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model=MODEL, messages=HELLO)
    reply = client.messages.create(model=MODEL, max_tokens=1, messages=HELLO)
    assert counted.input_tokens == reply.usage.input_tokens > 0
    # (SmolLM2's template puts its own system prompt in when there is none.)
    short = client.messages.count_tokens(model=MODEL, messages=HELLO, system="Be brief.")
    longer = client.messages.count_tokens(model=MODEL, messages=HELLO,
                                          system=[{"type": "text", "text": "Be brief."},
                                                  {"type": "text", "text": "Be kind."}])
    assert longer.input_tokens > short.input_tokens


def _call_tool(sdk: anthropic.Anthropic, alias: str) -> anthropic.types.Message:
    return sdk.messages.create(model=alias, max_tokens=40, extra_body=COLD, tools=[WEATHER],
                               stop_sequences=["</tool_call>"],
                               messages=[*ASK, {"role": "assistant", "content": PREFILL}])


def test_tool_use_round_trip(sdk: anthropic.Anthropic, tools_alias: str) -> None:  # noqa: F811
    reply = _call_tool(sdk, tools_alias)
    assert reply.stop_reason == "tool_use"
    uses = [b for b in reply.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather"
    assert isinstance(uses[0].input, dict) and uses[0].id
    answer = sdk.messages.create(model=tools_alias, max_tokens=8, extra_body=COLD,
                                 tools=[WEATHER], messages=[
                                     *ASK, {"role": "assistant", "content": reply.content},
                                     {"role": "user", "content": [
                                         {"type": "tool_result", "tool_use_id": uses[0].id,
                                          "content": "Sunny, 21 C."}]}])
    assert answer.role == "assistant" and answer.stop_reason in ("end_turn", "max_tokens")
    # The result reached the model's prompt: it counts more than the question alone.
    bare = sdk.messages.count_tokens(model=tools_alias, tools=[WEATHER], messages=ASK)
    assert answer.usage.input_tokens > bare.input_tokens


def test_tool_use_streams_input_json(sdk: anthropic.Anthropic,
                                     tools_alias: str) -> None:  # noqa: F811
    # The raw events, not the SDK's accumulated message: after a prefill llama.cpp streams
    # only the arguments that follow it (``": "Paris"}``), which no JSON parser accepts.
    events = list(sdk.messages.create(
        model=tools_alias, max_tokens=40, extra_body=COLD, tools=[WEATHER], stream=True,
        stop_sequences=["</tool_call>"],
        messages=[*ASK, {"role": "assistant", "content": PREFILL}]))
    kinds = [e.type for e in events]
    # (The SDK drops ``ping`` events; test_raw_stream_names_each_event sees them.)
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    starts = [e for e in events if e.type == "content_block_start"]
    assert starts and starts[-1].content_block.type == "tool_use"
    assert starts[-1].content_block.name == "get_weather" and starts[-1].content_block.id
    pieces = [e.delta.partial_json for e in events if e.type == "content_block_delta"
              and e.delta.type == "input_json_delta" and e.index == starts[-1].index]
    assert "Paris" in "".join(pieces)
    assert kinds.count("content_block_start") == kinds.count("content_block_stop")
    delta = events[-2]
    assert delta.type == "message_delta" and delta.delta.stop_reason == "tool_use"
    assert delta.usage.output_tokens > 0


def test_tool_choice_tool_offers_only_that_tool(sdk: anthropic.Anthropic,
                                                tools_alias: str) -> None:  # noqa: F811
    other = {**WEATHER, "name": "get_time", "description": "The time in a city."}
    both = sdk.messages.count_tokens(model=tools_alias, messages=ASK, tools=[WEATHER, other])
    named = sdk.messages.count_tokens(model=tools_alias, messages=ASK, tools=[WEATHER, other],
                                      tool_choice={"type": "tool", "name": "get_time"})
    only = sdk.messages.count_tokens(model=tools_alias, messages=ASK, tools=[other])
    assert named.input_tokens == only.input_tokens < both.input_tokens


def test_models_list_and_retrieve(sdk: anthropic.Anthropic) -> None:
    models = list(sdk.models.list())
    assert MODEL in [m.id for m in models]
    assert all(m.type == "model" and m.display_name for m in models)
    assert sdk.models.retrieve(MODEL).id == MODEL
    with pytest.raises(anthropic.NotFoundError):
        sdk.models.retrieve("no-such-model")
    first = sdk.models.list(limit=1)
    assert len(first.data) == 1 and first.first_id == first.last_id == first.data[0].id


def test_wrong_key_is_401_in_anthropics_envelope(shared_companion: Companion) -> None:
    with anthropic.Anthropic(base_url=shared_companion.url + "/anthropic",
                             api_key="bodhiapp_wrong", max_retries=0) as sdk, \
            pytest.raises(anthropic.AuthenticationError) as caught:
        sdk.messages.create(model=MODEL, max_tokens=4, messages=HELLO)
    body: Any = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"


def test_unknown_model_is_404_not_found_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="no-such-model", max_tokens=4, messages=HELLO)
    body: Any = caught.value.body
    assert body["error"]["type"] == "not_found_error" and "no-such-model" in body["error"][
        "message"]


def _raw(companion: Companion, token: str, body: dict[str, Any],
         **headers: str) -> httpx.Response:
    return httpx.post(companion.url + "/anthropic/v1/messages", json=body, timeout=60,
                      headers={"x-api-key": token, "anthropic-version": "2023-06-01",
                               **headers})


@pytest.mark.parametrize(("body", "field"), [
    ({"model": MODEL, "messages": HELLO}, "max_tokens"),
    ({"model": MODEL, "max_tokens": 4, "messages": [{"role": "system", "content": "x"}]},
     "messages.0.role"),
    ({"model": MODEL, "max_tokens": 4, "messages": [
        {"role": "user", "content": [{"type": "video", "url": "x"}]}]}, "messages.0.content"),
])
def test_invalid_requests_are_400_naming_the_field(shared_companion: Companion, token: str,
                                                   body: dict[str, Any], field: str) -> None:
    reply = _raw(shared_companion, token, body)
    assert reply.status_code == 400, reply.text
    error = reply.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith(field), error


def test_sdk_raises_bad_request_for_a_bad_role(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=4,
                               messages=[{"role": "robot", "content": "hi"}])  # type: ignore
    assert "messages.0.role" in str(caught.value)


def test_a_malformed_version_is_400(shared_companion: Companion, token: str) -> None:
    body = {"model": MODEL, "max_tokens": 1, "messages": HELLO}
    reply = _raw(shared_companion, token, body, **{"anthropic-version": "latest"})
    assert reply.status_code == 400
    assert "anthropic-version" in reply.json()["error"]["message"]
    missing = httpx.post(shared_companion.url + "/v1/messages", json=body, timeout=60,
                         headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 200, missing.text


def test_model_refusals_come_in_anthropics_envelope(sdk: anthropic.Anthropic) -> None:
    # The embedded model has no vision projector and no template for tools.
    image: Any = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                              "data": "iVBORw0KGgo="}}
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk.messages.create(model=MODEL, max_tokens=4, messages=[
            {"role": "user", "content": [image, {"type": "text", "text": "What is it?"}]}])
    body: Any = caught.value.body
    assert body["type"] == "error" and "image" in body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as refused:
        sdk.messages.create(model=MODEL, max_tokens=4, messages=ASK, tools=[WEATHER])
    tools: Any = refused.value.body
    assert tools["error"]["type"] == "invalid_request_error"
