"""A Gemini provider behind the companion: an API-model record with ``api_format: "gemini"``
pointing at the validating fake of Google's API (``tests/fake_gemini.py``), reached by the
OpenAI SDK (one translation: OpenAI → Gemini) and by the ``google-genai`` SDK (two: Gemini →
OpenAI → Gemini). The fake refuses any request Google would refuse, so a translation error
fails these tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors, types

from tests.conftest import Companion
from tests.fake_gemini import FakeGemini
from tests.integration.test_downloads_api import power_token

API = "/bodhi/v1/models/api"
KEY = "goog-provider-key"
PREFIX = "g/"
CHAT_MODEL = PREFIX + "gemini-test"
EMBED_MODEL = PREFIX + "text-embedding-004"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(KEY) as server:
        yield server


@pytest.fixture(scope="module")
def admin(shared_companion: Companion) -> dict[str, str]:
    return power_token(shared_companion)


@contextlib.contextmanager
def _record(companion: Companion, admin: dict[str, str], body: dict[str, Any]
            ) -> Iterator[dict[str, Any]]:
    """An API-model record for the test's duration (the companion is shared)."""
    reply = httpx.post(companion.url + API, json=body, timeout=30, headers=admin)
    assert reply.status_code == 201, reply.text
    record: dict[str, Any] = reply.json()
    try:
        yield record
    finally:
        httpx.delete(f"{companion.url}{API}/{record['id']}", timeout=30, headers=admin)


@pytest.fixture(scope="module")
def provider(shared_companion: Companion, admin: dict[str, str],
             fake: FakeGemini) -> Iterator[str]:
    with _record(shared_companion, admin, {
            "api_format": "gemini", "base_url": fake.url, "api_key": KEY, "prefix": PREFIX,
            "models": ["gemini-test", "text-embedding-004"]}) as record:
        assert record["has_api_key"] is True and KEY not in json.dumps(record)
        yield record["id"]


@pytest.fixture
def oai(shared_companion: Companion, token: str, provider: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=shared_companion.url + "/v1", api_key=token,
                       max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def gemini(shared_companion: Companion, token: str, provider: str) -> Iterator[genai.Client]:
    sdk = genai.Client(api_key=token, http_options=types.HttpOptions(
        base_url=shared_companion.url, api_version="v1beta", timeout=60_000))
    yield sdk
    sdk.close()


def test_openai_chat_reaches_the_gemini_provider(oai: openai.OpenAI, fake: FakeGemini) -> None:
    reply = oai.chat.completions.create(model=CHAT_MODEL, messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=20, temperature=0.1)
    assert reply.choices[0].message.content == "Hello from Gemini."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens > 0
    _, path, body = fake.requests[-1]
    assert path == "/v1beta/models/gemini-test:generateContent"
    assert body is not None and body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


def test_openai_stream(oai: openai.OpenAI, fake: FakeGemini) -> None:
    chunks = list(oai.chat.completions.create(model=CHAT_MODEL, stream=True,
                                              stream_options={"include_usage": True},
                                              messages=[{"role": "user", "content": "Hi"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from Gemini."
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert fake.requests[-1][1] == "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"


def test_openai_tool_round_trip(oai: openai.OpenAI) -> None:
    called = oai.chat.completions.create(model=CHAT_MODEL, messages=ASK,  # type: ignore[arg-type]
                                         tools=[WEATHER])  # type: ignore[list-item]
    choice = called.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    answered = oai.chat.completions.create(model=CHAT_MODEL, tools=[WEATHER], messages=[
        *ASK, choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"forecast": "sunny"}'}])
    assert answered.choices[0].message.content == \
        'The get_weather result is {"forecast": "sunny"}.'


def test_openai_embeddings(oai: openai.OpenAI) -> None:
    reply = oai.embeddings.create(model=EMBED_MODEL, input=["a", "b"])
    assert [d.index for d in reply.data] == [0, 1]
    assert reply.data[0].embedding != reply.data[1].embedding


def test_gemini_sdk_through_both_translations(gemini: genai.Client) -> None:
    reply = gemini.models.generate_content(model=CHAT_MODEL, contents="Hi")
    assert reply.text == "Hello from Gemini."
    chunks = list(gemini.models.generate_content_stream(model=CHAT_MODEL, contents="Hi"))
    assert "".join(c.text or "" for c in chunks) == "Hello from Gemini."
    assert (chunks[-1].candidates or [])[0].finish_reason == types.FinishReason.STOP


def test_gemini_sdk_function_call_round_trip(gemini: genai.Client) -> None:
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", parameters_json_schema=WEATHER["function"]["parameters"])])  # type: ignore[index]
    config = types.GenerateContentConfig(
        tools=[tool], automatic_function_calling=types.AutomaticFunctionCallingConfig(
            disable=True))
    ask = types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])
    reply = gemini.models.generate_content(model=CHAT_MODEL, contents=[ask], config=config)
    [call] = reply.function_calls or []
    assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
    answered = gemini.models.generate_content(model=CHAT_MODEL, config=config, contents=[
        ask, types.Content(role="model", parts=[types.Part(function_call=call)]),
        types.Content(role="user", parts=[types.Part.from_function_response(
            name="get_weather", response={"forecast": "sunny"})])])
    assert answered.text == 'The get_weather result is {"forecast": "sunny"}.'


def test_gemini_sdk_embeddings_and_models(gemini: genai.Client, fake: FakeGemini) -> None:
    # (The SDK merges a list into one input for names with "gemini" in them, as for Google's
    # multimodal embedding models; text-embedding-004 gets one input per string.)
    reply = gemini.models.embed_content(model=EMBED_MODEL, contents=["a", "b"])
    assert len(reply.embeddings or []) == 2
    assert [len(r["content"]["parts"]) for r in (fake.requests[-1][2] or {})["requests"]] == \
        [1, 1]
    names = [m.name for m in gemini.models.list()]
    assert f"models/{CHAT_MODEL}" in names


def test_anthropic_sdk_reaches_the_gemini_provider(shared_companion: Companion, token: str,
                                                   provider: str) -> None:
    # Anthropic -> OpenAI -> Gemini and back, with a tool call.
    with anthropic.Anthropic(base_url=shared_companion.url + "/anthropic", api_key=token,
                             max_retries=0, timeout=60) as claude:
        text = claude.messages.create(model=CHAT_MODEL, max_tokens=50, messages=[
            {"role": "user", "content": "Hi"}])
        assert [b.text for b in text.content if b.type == "text"] == ["Hello from Gemini."]
        function = WEATHER["function"]
        called = claude.messages.create(
            model=CHAT_MODEL, max_tokens=50, messages=ASK,  # type: ignore[arg-type]
            tools=[{"name": function["name"], "description": function["description"],  # type: ignore[index]
                    "input_schema": function["parameters"]}])  # type: ignore[index]
        assert called.stop_reason == "tool_use"
        [use] = [b for b in called.content if b.type == "tool_use"]
        assert (use.name, use.input) == ("get_weather", {"city": "Paris"})


def test_a_cut_stream_ends_with_the_familys_error_event(oai: openai.OpenAI,
                                                       gemini: genai.Client) -> None:
    with pytest.raises(openai.APIError):
        list(oai.chat.completions.create(model=CHAT_MODEL, stream=True,
                                         messages=[{"role": "user", "content": "CUT"}]))
    with pytest.raises(errors.APIError):
        list(gemini.models.generate_content_stream(model=CHAT_MODEL, contents="CUT"))


def test_a_providers_error_event_ends_the_stream_in_each_family(shared_companion: Companion,
                                                                token: str,
                                                                provider: str) -> None:
    google = httpx.post(shared_companion.url + f"/v1beta/models/{CHAT_MODEL}:"
                        "streamGenerateContent", params={"alt": "sse"}, timeout=30,
                        headers={"x-goog-api-key": token},
                        json={"contents": [{"parts": [{"text": "STREAM_ERROR"}]}]})
    events = [json.loads(e) for e in google.text.split("\r\n\r\n") if e.startswith("data: ")
              for e in [e[6:]]]
    assert google.status_code == 200
    assert events[0]["candidates"][0]["content"]["parts"] == [{"text": "Hello"}]
    assert events[-1]["error"]["code"] == 502
    assert "overloaded" in events[-1]["error"]["message"]
    oai = httpx.post(shared_companion.url + "/v1/chat/completions", timeout=30,
                     headers={"Authorization": f"Bearer {token}"},
                     json={"model": CHAT_MODEL, "stream": True,
                           "messages": [{"role": "user", "content": "STREAM_ERROR"}]})
    last = [line[6:] for line in oai.text.splitlines() if line.startswith("data: ")][-1]
    assert "overloaded" in json.loads(last)["error"]["message"]


def test_a_wrong_provider_key_is_401_in_each_family(shared_companion: Companion, token: str,
                                                    admin: dict[str, str],
                                                    fake: FakeGemini) -> None:
    # Google answers a wrong key with 400 API_KEY_INVALID; it is still the key that failed.
    with _record(shared_companion, admin, {
            "api_format": "gemini", "base_url": fake.url, "api_key": "wrong-key-abcdefgh",
            "prefix": "bad/", "models": ["gemini-test"]}) as record:
        oai = httpx.post(shared_companion.url + "/v1/chat/completions", timeout=30,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"model": "bad/gemini-test", "messages": ASK})
        assert oai.status_code == 401, oai.text
        assert oai.json()["error"]["code"] == "provider_auth_error"
        assert record["id"] in oai.json()["error"]["message"]
        google = httpx.post(shared_companion.url + "/v1beta/models/bad/gemini-test:"
                            "generateContent", timeout=30, headers={"x-goog-api-key": token},
                            json={"contents": [{"parts": [{"text": "Hi"}]}]})
        assert google.status_code == 401, google.text
        assert google.json()["error"]["status"] == "UNAUTHENTICATED"
        oll = httpx.post(shared_companion.url + "/api/chat", timeout=30,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"model": "bad/gemini-test", "messages": ASK})
        assert oll.status_code == 401 and "refused its API key" in oll.json()["error"]
        assert "wrong-key" not in oai.text + google.text + oll.text
        assert "wrong-key" not in shared_companion.log_text()


def test_gemini_sdk_counts_tokens_on_the_provider(gemini: genai.Client,
                                                  fake: FakeGemini) -> None:
    counted = gemini.models.count_tokens(model=CHAT_MODEL, contents="one two three")
    assert counted.total_tokens == 3
    assert fake.requests[-1][1] == "/v1beta/models/gemini-test:countTokens"


def test_the_record_can_be_tested_and_its_models_fetched(shared_companion: Companion,
                                                         admin: dict[str, str],
                                                         provider: str) -> None:
    tested = httpx.post(shared_companion.url + API + "/test", headers=admin, timeout=30,
                        json={"id": provider, "model": "gemini-test"})
    assert tested.status_code == 200 and tested.json() == {"ok": True,
                                                           "reply": "Hello from Gemini."}
    fetched = httpx.post(shared_companion.url + API + "/fetch-models", headers=admin,
                         timeout=30, json={"id": provider})
    assert fetched.status_code == 200 and fetched.json()["models"] == ["gemini-test",
                                                                       "text-embedding-004"]
