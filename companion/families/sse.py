"""Reading server-sent events that arrive split anywhere, for every stream translator.

Our model servers and the remote providers all stream SSE; the translators (a client
family's ``ReplyTranslation``, a provider's ``StreamTranslator``) differ only in what they
make of each event. ``SseReader`` cuts the bytes into events' data; ``EventStream`` is the
translators' common loop, with one rule: an event that fails raises, but only once what the
events before it (in the same chunk) produced has been handed out, so a client gets the
text that came before a provider's error event, then the error.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from companion.core.errors import BodhiError, UpstreamError

T = TypeVar("T")


def event_data(event: bytes) -> bytes:
    """An event's ``data:`` lines joined (one optional space after the colon, as the SSE
    specification has it); empty for comments and keep-alives."""
    return b"\n".join(line[5:].removeprefix(b" ") for line in event.split(b"\n")
                      if line.startswith(b"data:"))


def _lines(text: bytes) -> bytes:
    """CRLF and lone CR line ends as LF (the SSE specification allows all three)."""
    return text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


class SseReader:
    """The data of each complete event; CRLF, LF and CR line ends alike."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer + chunk
        # A CR at the very end may be the first half of a CRLF split between chunks.
        held = b"\r" if buffer.endswith(b"\r") else b""
        *events, rest = _lines(buffer[:len(buffer) - len(held)]).split(b"\n\n")
        self._buffer = rest + held
        return [data for data in map(event_data, events) if data]

    def close(self) -> list[bytes]:
        """The data of a last event the stream ended without a blank line after (so a
        stream cut in the middle of an event hands on what came, for the translator to
        refuse, rather than dropping it)."""
        rest, self._buffer = _lines(self._buffer).rstrip(b"\n"), b""
        data = event_data(rest)
        return [data] if data else []


class EventStream(ABC, Generic[T]):
    """Events in, items (frames, or a family's event objects) out."""

    def __init__(self) -> None:
        self._reader = SseReader()
        self._pending: BodhiError | None = None   # raised on the next call

    @abstractmethod
    def _event(self, data: bytes) -> list[T]:
        """The items for one event's data; raises ``BodhiError`` for a failed stream."""

    def _translate(self, chunk: bytes) -> list[T]:
        self._raise_pending()
        out: list[T] = []
        for data in self._reader.feed(chunk):
            try:
                out += self._event(data)
            except BodhiError as exc:
                if not out:
                    raise
                self._pending = exc
                break
        return out

    def _translate_rest(self) -> list[T]:
        """The items of an unterminated last event, once the stream has ended."""
        self._raise_pending()
        return [item for data in self._reader.close() for item in self._event(data)]

    def _raise_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            raise pending


class ChildChunks(EventStream[T]):
    """A client family's reading of the OpenAI-shaped stream a model answers with (a child,
    or a provider through its dialect): ``data: [DONE]`` ends it, an ``{"error": ...}`` event
    is the model server failing midway, anything else a ``chat.completion.chunk``."""

    @abstractmethod
    def _chunk(self, chunk: dict[str, Any]) -> list[T]: ...

    def _event(self, data: bytes) -> list[T]:
        if data.strip() == b"[DONE]":
            return []
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise UpstreamError("The model server sent an unreadable stream event.",
                                code="model_server_reply") from exc
        if not isinstance(chunk, dict):
            raise UpstreamError("The model server sent a stream event that is not an object.",
                                code="model_server_reply")
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise UpstreamError(f"The model server failed midway: {message or 'an error'}",
                                code="model_server_error")
        return self._chunk(chunk)
