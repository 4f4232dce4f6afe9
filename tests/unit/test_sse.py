"""families/sse.py: events out of bytes split anywhere, and errors raised only after what came
before them; checked through the provider dialects that use it."""

from __future__ import annotations

import json

import pytest

from companion.core.errors import UpstreamError
from companion.families.anthropic import DIALECT as ANTHROPIC
from companion.families.openai import DIALECT as OPENAI
from companion.families.provider import ProviderStreamError
from companion.families.sse import ChildChunks, SseReader

EVENTS = b": keep-alive\r\n\r\ndata: {\"a\": 1}\r\n\r\nevent: x\r\ndata: two\r\ndata: lines\r\n\r\n"


@pytest.mark.parametrize("size", [1, 2, 3, 5, len(EVENTS)])
def test_events_split_anywhere_crlf_included(size: int) -> None:
    reader = SseReader()
    data = [d for i in range(0, len(EVENTS), size) for d in reader.feed(EVENTS[i:i + size])]
    assert data == [b'{"a": 1}', b"two\nlines"]
    assert reader.close() == []


def test_a_last_event_without_its_blank_line() -> None:
    reader = SseReader()
    assert reader.feed(b"data: first\n\ndata: last") == [b"first"]
    assert reader.close() == [b"last"]


def _chunk(text: str) -> bytes:
    return b"data: " + json.dumps({
        "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    ).encode() + b"\n\n"


def test_a_provider_error_comes_after_the_text_before_it() -> None:
    stream = OPENAI.chat_stream("asked-name", include_usage=False)
    frames = stream.feed(_chunk("Hel") + _chunk("lo")
                         + b'data: {"error": {"message": "overloaded"}}\n\n')
    assert [json.loads(f[6:])["choices"][0]["delta"]["content"] for f in frames] == \
        ["Hel", "lo"]
    assert all(json.loads(f[6:])["model"] == "asked-name" for f in frames)
    with pytest.raises(ProviderStreamError, match="overloaded"):
        stream.feed(b"")


def test_an_anthropic_stream_without_message_stop_was_cut() -> None:
    stream = ANTHROPIC.chat_stream("claude", include_usage=False)
    start = {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 0}}}
    assert stream.feed(b"event: message_start\ndata: " + json.dumps(start).encode() + b"\n\n")
    with pytest.raises(ProviderStreamError, match="cut short"):
        stream.close()


class _Texts(ChildChunks[str]):
    def _chunk(self, chunk: dict[str, object]) -> list[str]:
        return [str(chunk["text"])]

    def feed(self, chunk: bytes) -> list[str]:
        return self._translate(chunk)


def test_a_model_servers_error_event_fails_the_stream() -> None:
    texts = _Texts()
    assert texts.feed(b'data: {"text": "a"}\n\ndata: [DONE]\n\n') == ["a"]
    with pytest.raises(UpstreamError, match="failed midway: boom"):
        texts.feed(b'data: {"error": {"message": "boom"}}\n\n')
    with pytest.raises(UpstreamError, match="unreadable"):
        _Texts().feed(b"data: {not json\n\n")
