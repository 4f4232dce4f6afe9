"""``Family``: what one API family declares, and nothing else has to know.

A family is the set of routes one kind of client speaks (OpenAI, Ollama, Anthropic, ...). Its
declaration says where it lives (path prefixes), where its clients put their key besides
``Authorization: Bearer``, the JSON its errors take, and how its streams are framed (which
also frames an error that happens once a stream has begun). The credential and error
middleware and the relay read declarations; none of them names a family's prefix or format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from companion.core.errors import BodhiError

ErrorBody = Callable[[BodhiError], dict[str, Any]]


@dataclass(frozen=True)
class StreamFraming:
    """How a family's streamed replies go on the wire: the response headers and the bytes
    around each JSON event."""

    headers: tuple[tuple[str, str], ...]
    before: bytes
    after: bytes
    # Server-sent events that name themselves (Anthropic's ``event: <type>`` line before
    # ``data:``): the name is the event's own ``type`` member.
    named: bool = False

    def frame(self, event: Mapping[str, Any]) -> bytes:
        name = f"event: {event['type']}\n".encode() if self.named else b""
        return name + self.before + json.dumps(event).encode() + self.after


# Server-sent events, as OpenAI and llama.cpp stream them. Proxies must not buffer them.
SSE = StreamFraming((("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                     ("X-Accel-Buffering", "no")), b"data: ", b"\n\n")
# Server-sent events with an ``event:`` line naming each, as Anthropic streams them.
NAMED_SSE = StreamFraming(SSE.headers, b"data: ", b"\n\n", named=True)
# One JSON object per line, as Ollama streams them.
NDJSON = StreamFraming((("Content-Type", "application/x-ndjson"),), b"", b"\n")


@dataclass(frozen=True)
class Family:
    name: str                               # also the ``family`` label of request metrics
    prefixes: tuple[str, ...]               # the longest matching prefix wins
    error_body: ErrorBody
    credential_headers: tuple[str, ...] = ()  # tried in order after ``Authorization``
    credential_query: str | None = None       # a query parameter tried after the headers
    stream: StreamFraming | None = None       # None: the family has no streamed routes

    def credential_places(self) -> str:
        """Where this family's clients may send a token, for the "missing token" message."""
        places = ["'Authorization: Bearer <token>'", *(f"'{h}'" for h in self.credential_headers)]
        if self.credential_query is not None:
            places.append(f"'?{self.credential_query}='")
        return " or ".join(places)

    def stream_error(self, error: BodhiError) -> bytes:
        """A failure once a stream has begun: the status line is gone, so it is an event."""
        if self.stream is None:
            raise LookupError(f"the {self.name} family declares no stream framing")
        return self.stream.frame(self.error_body(error))
