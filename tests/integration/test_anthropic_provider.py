"""Anthropic's API as a provider of remote models: an API model record of format "anthropic"
pointing at a fake of Anthropic's API that validates every request (``tests/fake_anthropic.py``),
reached through the real companion by the official ``openai`` SDK (one translation) and the
official ``anthropic`` SDK (Anthropic -> OpenAI pivot -> Anthropic: two)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import Companion
from tests.fake_anthropic import FakeAnthropic
from tests.integration.test_downloads_api import power_token

KEY = "sk-ant-integration-0123456789"
RECORDS = "/bodhi/v1/models/api"
MODELS = ["claude-text", "claude-tools", "claude-broken-stream"]
TOOL: Any = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
ANTHROPIC_TOOL: Any = {"name": "get_weather", "description": "Weather.",
                       "input_schema": TOOL["function"]["parameters"]}
ASK: Any = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(KEY).start()
    try:
        yield server
    finally:
        server.stop()


def _record(companion: Companion, fake: FakeAnthropic, prefix: str, key: str) -> Iterator[str]:
    headers = power_token(companion)
    made = httpx.post(companion.url + RECORDS, headers=headers, timeout=30, json={
        "api_format": "anthropic", "base_url": fake.url, "api_key": key, "models": MODELS,
        "prefix": prefix})
    assert made.status_code == 201, made.text
    assert made.json()["has_api_key"] and key not in made.text
    try:
        yield prefix
    finally:
        httpx.delete(f"{companion.url}{RECORDS}/{made.json()['id']}", headers=headers,
                     timeout=30)


@pytest.fixture(scope="module")
def claude(shared_companion: Companion, fake: FakeAnthropic) -> Iterator[str]:
    """The record's prefix: ``claude/claude-text`` is the fake's ``claude-text``."""
    yield from _record(shared_companion, fake, "claude/", KEY)


@pytest.fixture(scope="module")
def wrong_key(shared_companion: Companion, fake: FakeAnthropic) -> Iterator[str]:
    yield from _record(shared_companion, fake, "badkey/", "sk-ant-wrong-key-4321")


@pytest.fixture
def oai(shared_companion: Companion, token: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=shared_companion.url + "/v1", api_key=token,
                       max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def sdk(shared_companion: Companion, token: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=shared_companion.url + "/anthropic", api_key=token,
                             max_retries=0, timeout=60) as client:
        yield client


def test_openai_chat(oai: openai.OpenAI, claude: str, fake: FakeAnthropic) -> None:
    reply = oai.chat.completions.create(model=claude + "claude-text", messages=ASK,
                                        max_tokens=30)
    assert reply.choices[0].message.content == "Hello from Claude."
    assert reply.choices[0].finish_reason == "stop" and reply.model == claude + "claude-text"
    assert fake.requests[-1]["model"] == "claude-text"
    assert fake.requests[-1]["max_tokens"] == 30


def test_openai_stream(oai: openai.OpenAI, claude: str) -> None:
    chunks = list(oai.chat.completions.create(model=claude + "claude-text", messages=ASK,
                                              stream=True,
                                              stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from Claude."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7


def test_openai_tool_call_round_trip(oai: openai.OpenAI, claude: str,
                                     fake: FakeAnthropic) -> None:
    model = claude + "claude-tools"
    first = oai.chat.completions.create(model=model, messages=ASK, tools=[TOOL])
    calls = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls" and len(calls) == 1
    call: Any = calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    second = oai.chat.completions.create(model=model, tools=[TOOL], messages=[
        *ASK, first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny."}])
    assert second.choices[0].message.content == "It is sunny."
    assert fake.requests[-1]["messages"][-1]["content"] == [
        {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny."}]


def test_ollama_chat(shared_companion: Companion, token: str, claude: str) -> None:
    reply = httpx.post(shared_companion.url + "/api/chat", timeout=60,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"model": claude + "claude-text", "messages": ASK, "stream": False})
    assert reply.status_code == 200, reply.text
    assert reply.json()["message"]["content"] == "Hello from Claude."
    assert reply.json()["done"] is True


def test_anthropic_sdk_through_both_translations(sdk: anthropic.Anthropic, claude: str,
                                                  fake: FakeAnthropic) -> None:
    reply = sdk.messages.create(model=claude + "claude-text", max_tokens=30, system="Brief.",
                                stop_sequences=["END"], messages=ASK)
    assert reply.content[0].type == "text" and reply.content[0].text == "Hello from Claude."
    assert (reply.stop_reason, reply.stop_sequence) == ("stop_sequence", "END")
    assert reply.usage.output_tokens == 7 and reply.model == claude + "claude-text"
    sent = fake.requests[-1]
    assert (sent["system"], sent["stop_sequences"], sent["max_tokens"]) == (
        "Brief.", ["END"], 30)


def test_anthropic_sdk_tool_use_round_trip(sdk: anthropic.Anthropic, claude: str,
                                           fake: FakeAnthropic) -> None:
    model = claude + "claude-tools"
    first = sdk.messages.create(model=model, max_tokens=50, tools=[ANTHROPIC_TOOL],
                                messages=ASK)
    assert first.stop_reason == "tool_use"
    use: Any = first.content[0]
    assert use.type == "tool_use" and use.input == {"city": "Paris"}
    question = {"role": "user", "content": [{"type": "text", "text": ASK[0]["content"]}]}
    said = {"type": "tool_use", "id": use.id, "name": use.name, "input": use.input}
    history: Any = [question, {"role": "assistant", "content": [said]},
                    {"role": "user", "content": [{"type": "tool_result",
                                                  "tool_use_id": use.id,
                                                  "content": "Sunny."}]}]
    second = sdk.messages.create(model=model, max_tokens=50, tools=[ANTHROPIC_TOOL],
                                 messages=history)
    assert second.content[0].type == "text" and second.content[0].text == "It is sunny."
    # What the client said reached Anthropic as it was said.
    assert fake.requests[-1]["messages"] == history


def test_anthropic_sdk_stream(sdk: anthropic.Anthropic, claude: str) -> None:
    with sdk.messages.stream(model=claude + "claude-tools", max_tokens=50,
                             tools=[ANTHROPIC_TOOL], messages=ASK) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    use: Any = final.content[0]
    assert use.type == "tool_use" and use.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_count_tokens_and_models(sdk: anthropic.Anthropic, claude: str,
                                 fake: FakeAnthropic) -> None:
    counted = sdk.messages.count_tokens(model=claude + "claude-text", messages=ASK)
    assert counted.input_tokens > 0
    assert "max_tokens" not in fake.requests[-1]
    ids = [m.id for m in sdk.models.list(limit=1000)]
    assert claude + "claude-text" in ids


def test_a_wrong_provider_key_is_401_in_each_family(oai: openai.OpenAI, sdk: anthropic.Anthropic,
                                                    wrong_key: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught_oai:
        oai.chat.completions.create(model=wrong_key + "claude-text", messages=ASK)
    assert "sk-ant-wrong" not in str(caught_oai.value.body)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        sdk.messages.create(model=wrong_key + "claude-text", max_tokens=5, messages=ASK)
    body: Any = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert "sk-ant-wrong" not in json.dumps(body)


def test_an_error_event_mid_stream_reaches_each_family(oai: openai.OpenAI,
                                                       sdk: anthropic.Anthropic,
                                                       claude: str) -> None:
    model = claude + "claude-broken-stream"
    with pytest.raises(openai.APIError, match="Overloaded"):
        for _ in oai.chat.completions.create(model=model, messages=ASK, stream=True):
            pass
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"), \
            sdk.messages.stream(model=model, max_tokens=5, messages=ASK) as stream:
        for _ in stream:
            pass


def test_fetch_models_and_test_a_record(shared_companion: Companion,
                                        fake: FakeAnthropic) -> None:
    headers = power_token(shared_companion)
    fields = {"api_format": "anthropic", "base_url": fake.url, "api_key": KEY}
    fetched = httpx.post(shared_companion.url + RECORDS + "/fetch-models", headers=headers,
                         json=fields, timeout=30)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["models"][:3] == MODELS
    tried = httpx.post(shared_companion.url + RECORDS + "/test", headers=headers, timeout=30,
                       json={**fields, "model": "claude-text"})
    assert tried.status_code == 200, tried.text
    assert tried.json() == {"ok": True, "reply": "Hello from Claude."}
    refused = httpx.post(shared_companion.url + RECORDS + "/fetch-models", headers=headers,
                         json={**fields, "api_key": "sk-ant-nope-9999"}, timeout=30)
    assert refused.status_code == 401 and "sk-ant-nope" not in refused.text
