"""The Gemini API under ``/v1beta`` through Google's own ``google-genai`` SDK, unchanged, against
the real companion and the embedded model (and the tools alias for function calls)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.conftest import Companion
from tests.integration.test_openai_api import MODEL, _cache_model
from tests.integration.test_openai_tools import TOOLS_ALIAS, WEATHER, tools_alias  # noqa: F401

HELLO = "Say hello."
WEATHER_TOOL = types.Tool(function_declarations=[types.FunctionDeclaration(
    name=WEATHER["name"], description=WEATHER["description"],
    parameters_json_schema=WEATHER["parameters"])])
# SmolLM2 calls a tool when its answer is begun for it: with Gemini the last ``model`` turn is
# that prefill, opening a ``<tool_call>``; stopping at its close gives exactly one call.
ASK = types.Content(role="user", parts=[types.Part(text="What is the weather in Paris?")])
PREFILL = types.Content(role="model", parts=[types.Part(
    text='<tool_call>\n{"name": "get_weather", "arguments": {"city')])
CALLING = types.GenerateContentConfig(
    tools=[WEATHER_TOOL], stop_sequences=["</tool_call>"], max_output_tokens=40, temperature=0,
    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))


def _client(companion: Companion, key: str) -> genai.Client:
    # The SDK appends ``/{api_version}/models/...`` to the base URL.
    return genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=companion.url, api_version="v1beta", timeout=120_000))


@pytest.fixture
def gemini(shared_companion: Companion, token: str) -> Iterator[genai.Client]:
    sdk = _client(shared_companion, token)
    yield sdk
    sdk.close()


def test_generate_content(gemini: genai.Client) -> None:
    reply = gemini.models.generate_content(
        model=MODEL, contents=HELLO,
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=5,
                                           temperature=0))
    assert reply.text
    candidate = (reply.candidates or [])[0]
    assert candidate.finish_reason == types.FinishReason.MAX_TOKENS
    assert candidate.content is not None and candidate.content.role == "model"
    usage = reply.usage_metadata
    assert usage is not None and usage.candidates_token_count == 5
    assert usage.prompt_token_count and usage.total_token_count == (
        usage.prompt_token_count + 5)
    assert reply.model_version == MODEL and reply.response_id


def test_generate_content_stream(gemini: genai.Client) -> None:
    chunks = list(gemini.models.generate_content_stream(
        model=MODEL, contents=HELLO, config=types.GenerateContentConfig(max_output_tokens=8,
                                                                        temperature=0)))
    assert len(chunks) > 2  # the text comes in pieces, then the finish
    text = "".join(c.text or "" for c in chunks)
    assert text
    last = chunks[-1]
    assert (last.candidates or [])[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert last.usage_metadata is not None and last.usage_metadata.candidates_token_count == 8


def test_count_tokens_matches_what_generation_reads(gemini: genai.Client) -> None:
    counted = gemini.models.count_tokens(model=MODEL, contents=HELLO)
    reply = gemini.models.generate_content(
        model=MODEL, contents=HELLO, config=types.GenerateContentConfig(max_output_tokens=1))
    assert counted.total_tokens and reply.usage_metadata is not None
    assert counted.total_tokens == reply.usage_metadata.prompt_token_count


def test_embed_content(gemini: genai.Client) -> None:
    reply = gemini.models.embed_content(model=MODEL, contents=["hello world", "goodbye"])
    vectors = [e.values for e in reply.embeddings or []]
    assert len(vectors) == 2 and all(vectors) and vectors[0] != vectors[1]
    assert len(vectors[0] or []) == len(vectors[1] or [])
    # Google's outputDimensionality cuts the values off the end.
    short = gemini.models.embed_content(model=MODEL, contents="hello world",
                                        config=types.EmbedContentConfig(output_dimensionality=8))
    assert (short.embeddings or [])[0].values == (vectors[0] or [])[:8]


def test_models_list_and_get(gemini: genai.Client) -> None:
    names = [m.name for m in gemini.models.list()]
    assert f"models/{MODEL}" in names
    model = gemini.models.get(model=MODEL)
    assert model.name == f"models/{MODEL}" and model.display_name == MODEL
    assert "generateContent" in (model.supported_actions or [])


def test_model_names_with_a_slash_and_colons(gemini: genai.Client, shared_companion: Companion,
                                             token: str, model_path: Path) -> None:
    # The SDK puts the name in the path as it is: /v1beta/models/test-org/smol:Q4_1:countTokens
    _cache_model(shared_companion.hf_home, model_path, "test-org/smol", "c0ffee")
    name = "test-org/smol:Q4_1"
    assert gemini.models.get(model=name).name == f"models/{name}"
    assert (gemini.models.count_tokens(model=name, contents=HELLO).total_tokens or 0) > 0
    # A client that percent-encodes the name reaches the same model.
    reply = _raw(shared_companion, "POST", "/models/test-org%2Fsmol%3AQ4_1:countTokens",
                 headers={"x-goog-api-key": token}, json={"contents": [{"parts": [
                     {"text": HELLO}]}]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["totalTokens"] > 0


def test_a_function_call_round_trip(gemini: genai.Client,
                                    tools_alias: str) -> None:  # noqa: F811
    reply = gemini.models.generate_content(model=tools_alias, contents=[ASK, PREFILL],
                                           config=CALLING)
    calls = reply.function_calls or []
    assert [c.name for c in calls] == ["get_weather"]
    assert isinstance(calls[0].args, dict) and calls[0].args
    assert (reply.candidates or [])[0].finish_reason == types.FinishReason.STOP
    # The answer goes back as a functionResponse after the model's functionCall.
    answered = gemini.models.generate_content(model=tools_alias, contents=[
        ASK, types.Content(role="model", parts=[types.Part(function_call=calls[0])]),
        types.Content(role="user", parts=[types.Part.from_function_response(
            name="get_weather", response={"forecast": "sunny"})])],
        config=types.GenerateContentConfig(tools=[WEATHER_TOOL], max_output_tokens=5))
    assert (answered.candidates or [])[0].content is not None


def test_a_streamed_function_call_arrives_whole(gemini: genai.Client,
                                                tools_alias: str) -> None:  # noqa: F811
    chunks = list(gemini.models.generate_content_stream(model=tools_alias,
                                                        contents=[ASK, PREFILL], config=CALLING))
    calls = [call for c in chunks for call in c.function_calls or []]
    assert [c.name for c in calls] == ["get_weather"] and calls[0].args
    assert (chunks[-1].candidates or [])[0].finish_reason == types.FinishReason.STOP


def test_wrong_key_is_401_unauthenticated(shared_companion: Companion) -> None:
    sdk = _client(shared_companion, "bodhiapp_not-a-real-token")
    with pytest.raises(errors.ClientError) as caught:
        sdk.models.generate_content(model=MODEL, contents=HELLO)
    assert (caught.value.code, caught.value.status) == (401, "UNAUTHENTICATED")


def test_unknown_model_is_404_not_found(gemini: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        gemini.models.generate_content(model="no-such-model", contents=HELLO)
    assert (caught.value.code, caught.value.status) == (404, "NOT_FOUND")
    assert "no-such-model" in (caught.value.message or "")


def test_a_bad_role_is_400_naming_the_field(gemini: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as caught:
        gemini.models.generate_content(model=MODEL, contents=[
            types.Content(role="assistant", parts=[types.Part(text="hi")])])
    assert (caught.value.code, caught.value.status) == (400, "INVALID_ARGUMENT")
    assert "contents[0].role" in (caught.value.message or "")


def _raw(companion: Companion, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, companion.url + "/v1beta" + path, timeout=120, **kwargs)


def test_key_in_the_query_works_and_stays_out_of_the_log(shared_companion: Companion,
                                                         token: str) -> None:
    reply = _raw(shared_companion, "GET", "/models", params={"key": token, "pageSize": "1"})
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["models"]) == 1 and reply.json()["nextPageToken"] == "1"
    assert _raw(shared_companion, "GET", "/models", params={"key": "nope"}).status_code == 401
    assert token not in shared_companion.log_text()


def test_streaming_without_sse_is_a_json_array(shared_companion: Companion, token: str) -> None:
    reply = _raw(shared_companion, "POST", f"/models/{MODEL}:streamGenerateContent",
                 headers={"x-goog-api-key": token},
                 json={"contents": [{"parts": [{"text": HELLO}]}],
                       "generationConfig": {"maxOutputTokens": 3}})
    assert reply.status_code == 200, reply.text
    [response] = reply.json()
    assert response["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_an_unknown_method_is_404(shared_companion: Companion, token: str) -> None:
    reply = _raw(shared_companion, "POST", f"/models/{MODEL}:predict",
                 headers={"x-goog-api-key": token}, json={})
    assert reply.status_code == 404
    assert reply.json()["error"]["status"] == "NOT_FOUND"


def test_bad_json_is_400_in_googles_envelope(shared_companion: Companion, token: str) -> None:
    reply = _raw(shared_companion, "POST", f"/models/{MODEL}:generateContent",
                 headers={"x-goog-api-key": token}, content=b"{nope")
    assert reply.status_code == 400
    assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"


# The SDK's own aiohttp session subclass warns on this aiohttp; the warning is not ours.
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
def test_the_async_client_streams_too(shared_companion: Companion, token: str) -> None:
    # ``client.aio`` reads the stream with aiohttp, line by line: Google's CRLF framing.
    async def run() -> list[types.GenerateContentResponse]:
        sdk = _client(shared_companion, token)
        try:
            stream = await sdk.aio.models.generate_content_stream(
                model=MODEL, contents=HELLO, config=types.GenerateContentConfig(
                    max_output_tokens=4))
            return [chunk async for chunk in stream]
        finally:
            await sdk.aio.aclose()

    chunks = asyncio.run(run())
    assert "".join(c.text or "" for c in chunks)
    assert (chunks[-1].candidates or [])[0].finish_reason == types.FinishReason.MAX_TOKENS
