"""Ollama <-> OpenAI translation: requests, streamed replies split anywhere, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from companion.core.errors import BadRequestError, NotFoundError, UpstreamError
from companion.core.metrics import ReplyWatch
from companion.families import ollama
from companion.families.translation import upstream_error
from companion.models.downloads import pick_quant
from companion.models.names import HubModelName, hub_model


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + \
        b"data: [DONE]\n\n"


STREAM = sse(
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
    {"choices": [{"index": 0, "delta": {"content": "lo"}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"name": "get_weather", "arguments": "{\"city\": "}}]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"arguments": "\"Paris\"}"}}]}}]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
     "timings": {"prompt_n": 7, "prompt_ms": 12.5, "predicted_n": 3, "predicted_ms": 30.0}},
    {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}})


@pytest.mark.parametrize("size", [1, 7, 64, len(STREAM)])
def test_a_stream_split_anywhere_translates_the_same(size: int) -> None:
    translator = ollama.ReplyTranslator("m", chat=True)
    pieces = []
    for start in range(0, len(STREAM), size):
        pieces += translator.feed(STREAM[start:start + size])
    final = translator.finish()
    assert [p["message"]["content"] for p in pieces] == ["Hel", "lo"]
    assert all(p["done"] is False and p["model"] == "m" for p in pieces)
    assert final["done"] is True and final["done_reason"] == "length"
    assert final["message"]["tool_calls"] == [{"function": {"name": "get_weather",
                                                            "arguments": {"city": "Paris"}}}]
    assert (final["prompt_eval_count"], final["eval_count"]) == (7, 3)
    assert final["prompt_eval_duration"] == 12_500_000 and final["eval_duration"] == 30_000_000


def test_an_error_event_mid_stream_ends_the_stream_after_the_text_before_it() -> None:
    translator = ollama.ReplyTranslator("m", chat=True)
    head = STREAM[:STREAM.index(b"data: {", 10)]  # the first event only
    frames = translator.frames(head + b'data: {"error": {"message": "context full"}}\n\n')
    assert [json.loads(f)["message"]["content"] for f in frames] == ["Hel"]
    with pytest.raises(UpstreamError, match="context full"):
        translator.frames(b"")


def test_generate_reply_uses_response() -> None:
    translator = ollama.ReplyTranslator("m", chat=False)
    whole = translator.whole({"choices": [{"text": "blue", "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
    assert whole["response"] == "blue" and whole["done_reason"] == "stop"
    assert "message" not in whole


def test_chat_request_mapping() -> None:
    body = ollama.chat_body({
        "model": "m", "format": "json",
        "options": {"num_predict": 9, "temperature": 0.5, "seed": 1, "num_ctx": 4096},
        "messages": [{"role": "user", "content": "hi", "images": ["QUJD"]},
                     {"role": "assistant", "content": "",
                      "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}]})
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (9, 0.5, 1)
    assert "num_ctx" not in body and body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["content"][1]["image_url"]["url"].endswith("QUJD")
    assert json.loads(body["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {"a": 1}
    assert "stream_options" not in ollama.chat_body({"model": "m", "stream": False})
    assert "max_tokens" not in ollama.chat_body({"model": "m", "options": {"num_predict": -1}})


def test_generate_request_mapping() -> None:
    raw, body = ollama.generate_body({"model": "m", "prompt": "x", "system": "be brief"})
    assert not raw and [m["role"] for m in body["messages"]] == ["system", "user"]
    raw, body = ollama.generate_body({"model": "m", "prompt": "x", "raw": True})
    assert raw and body["prompt"] == "x"
    with pytest.raises(BadRequestError):
        ollama.chat_body({"model": "m", "format": 3})
    with pytest.raises(BadRequestError):
        ollama.embed_body({"model": "m"})


def test_upstream_errors_keep_their_status_and_message() -> None:
    error = upstream_error(400, b'{"error": {"message": "context too long"}}')
    assert (error.status, error.message) == (400, "context too long")
    assert upstream_error(500, b"boom").message == "boom"


def test_reply_watch_counts_tokens_across_chunk_boundaries() -> None:
    watch = ReplyWatch()
    body = b'{"usage": {"prompt_tokens": 12, "completion_tokens": 34}}'
    watch.saw(body[:30], 1.0)
    watch.saw(body[30:], 2.0)
    assert (watch.tokens_in, watch.tokens_out, watch.first_chunk) == (12, 34, 1.0)


def test_created_model_parameters_become_alias_defaults() -> None:
    request, launch = ollama.alias_params({"temperature": 0.1, "num_predict": 64,
                                           "stop": ["\n"], "num_ctx": 2048})
    assert request == {"temperature": 0.1, "max_tokens": 64, "stop": ["\n"]}
    assert launch == ["--ctx-size 2048"]
    assert ollama.alias_params(None) == ({}, [])
    for refused in ({"num_ctx": "2048"}, {"penalize_newline": True}, ["temperature"]):
        with pytest.raises(BadRequestError):
            ollama.alias_params(refused)


@pytest.mark.parametrize(("name", "ref"), [
    ("hf.co/o/r/m-Q4_0.gguf", HubModelName("o/r", "m-Q4_0.gguf")),
    ("huggingface.co/o/r/sub/m.gguf", HubModelName("o/r", "sub/m.gguf")),
    ("o/r/m.GGUF", HubModelName("o/r", "m.GGUF")),
    ("hf.co/o/r:Q4_K_M", HubModelName("o/r", quant="Q4_K_M")),
    ("hf.co/o/r", HubModelName("o/r")),
    ("hf.co/o/r:latest", HubModelName("o/r"))])
def test_pull_names_are_hub_models(name: str, ref: HubModelName) -> None:
    assert hub_model(name) == ref


@pytest.mark.parametrize("name", ["llama3.2", "llama3.2:1b", "o/r:Q4_0", "hf.co/o", "hf.co/o/r/x",
                                  "o/r/m.bin", "o/../m.gguf", "o/r/../m.gguf", "hf.co/../r:Q4"])
def test_other_pull_names_are_refused(name: str) -> None:
    with pytest.raises(BadRequestError):
        hub_model(name)


FILES = ["README.md", "m-Q4_K_M.gguf", "m-Q8_0.gguf", "sub/m-F16.gguf",
         "big-Q6_K-00001-of-00002.gguf", "big-Q6_K-00002-of-00002.gguf", "mmproj-m-F32.gguf"]


def test_a_quantisation_picks_the_single_file_gguf() -> None:
    assert pick_quant("o/r", FILES, "q8_0") == "m-Q8_0.gguf"
    assert pick_quant("o/r", FILES, "F16") == "sub/m-F16.gguf"
    assert pick_quant("o/r", FILES, None) == "m-Q4_K_M.gguf"
    assert pick_quant("o/r", ["a-Q2_K.gguf"], None) == "a-Q2_K.gguf"
    for quant in ("Q6_K", "F32", "Q5_0"):  # split, a projector, absent
        with pytest.raises(NotFoundError, match="it has: F16, Q4_K_M, Q8_0"):
            pick_quant("o/r", FILES, quant)
