"""The OpenAI-format provider dialect: requests nearly as they came, replies checked and
stamped with the name the client asked for, streams re-framed whatever their chunking."""

from __future__ import annotations

import json

import pytest

from companion.core.errors import BadRequestError
from companion.families.openai import DIALECT
from companion.families.provider import MalformedReply, ProviderStreamError
from companion.providers.dialects import dialect_for


def _chunk(content: str) -> bytes:
    return b"data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "model": "gpt",
                                   "choices": [{"index": 0, "delta": {"content": content}}]}
                                  ).encode() + b"\n\n"


def test_the_request_names_the_providers_model() -> None:
    request = DIALECT.chat({"model": "remote/gpt", "messages": [], "stream": True}, "gpt")
    assert (request.method, request.path, request.stream) == ("POST", "/chat/completions", True)
    assert request.body == {"model": "gpt", "messages": [], "stream": True}
    assert DIALECT.auth_headers("k") == {"Authorization": "Bearer k"}


def test_a_reply_is_stamped_with_the_asked_name() -> None:
    raw = json.dumps({"object": "chat.completion", "model": "gpt-4o-2024", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"},
         "finish_reason": "stop"}]}).encode()
    assert DIALECT.chat_reply(raw, "remote/gpt")["model"] == "remote/gpt"


@pytest.mark.parametrize("raw", [b"<html>Not here</html>", b"[]", b'{"choices": []}',
                                 b'{"choices": [{"text": "completion, not chat"}]}'])
def test_garbage_is_a_malformed_reply(raw: bytes) -> None:
    with pytest.raises(MalformedReply):
        DIALECT.chat_reply(raw, "m")


def test_a_stream_split_anywhere_comes_out_whole_frames() -> None:
    raw = _chunk("one") + b": keep-alive\n\n" + _chunk("two") + b"data: [DONE]\n\n"
    for cut in range(1, len(raw)):
        stream = DIALECT.chat_stream("asked", include_usage=False)
        frames = [*stream.feed(raw[:cut]), *stream.feed(raw[cut:]), *stream.close()]
        assert frames[-1] == b"data: [DONE]\n\n"
        parsed = [json.loads(f[6:]) for f in frames[:-1]]
        assert [p["choices"][0]["delta"]["content"] for p in parsed] == ["one", "two"]
        assert {p["model"] for p in parsed} == {"asked"}


def test_a_stream_without_done_or_with_an_error_event_fails() -> None:
    stream = DIALECT.chat_stream("m", include_usage=False)
    stream.feed(_chunk("one"))
    with pytest.raises(MalformedReply):
        stream.close()
    with pytest.raises(ProviderStreamError, match="overloaded"):
        DIALECT.chat_stream("m", False).feed(b'data: {"error": {"message": "overloaded"}}\n\n')


def test_error_messages_and_models() -> None:
    assert DIALECT.error_message(401, b'{"error": {"message": "bad key"}}') == "bad key"
    assert DIALECT.error_message(502, b"") == "HTTP 502"
    assert DIALECT.models_reply(b'{"data": [{"id": "a"}, {"id": "b"}]}') == ["a", "b"]


def test_the_registry_refuses_unknown_formats_by_name() -> None:
    assert dialect_for("openai") is DIALECT
    with pytest.raises(BadRequestError) as refused:
        dialect_for("cohere")
    assert refused.value.param == "api_format"
