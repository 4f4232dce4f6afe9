"""A Gemini provider's SSE stream as OpenAI ``chat.completion.chunk`` frames.

Google frames each ``GenerateContentResponse`` as ``data: {...}`` ending with a blank line
(CRLFs); chunks may split events anywhere. Text parts become content deltas as they come; a
``functionCall`` part (Google sends it whole) becomes one complete tool-call delta. An
``{"error": ...}`` event is the provider's mid-stream failure. A stream that ends before any
candidate says why it finished was cut short, and is reported as such.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from companion.families.gemini import wire
from companion.families.provider import MalformedReply, ProviderStreamError
from companion.families.sse import EventStream

_DONE = b"data: [DONE]\n\n"
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
           "RECITATION": "content_filter", "BLOCKLIST": "content_filter",
           "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
           "IMAGE_SAFETY": "content_filter"}


def finish_reason(google: str | None, called: bool) -> str:
    """Google's ``finishReason`` as OpenAI's (``tool_calls`` when the turn called any)."""
    if called:
        return "tool_calls"
    return _FINISH.get(google or "STOP", "stop")


def openai_usage(usage: wire.UsageMetadata | None) -> dict[str, int]:
    usage = usage or wire.UsageMetadata()
    prompt = usage.prompt_token_count or 0
    output = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
    return {"prompt_tokens": prompt, "completion_tokens": output,
            "total_tokens": usage.total_token_count or prompt + output}


def _frame(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


class StreamTranslator(EventStream[bytes]):
    """Feed the provider's bytes, get OpenAI SSE frames (a ``provider.StreamTranslator``)."""

    def __init__(self, model: str, include_usage: bool) -> None:
        super().__init__()
        self._model = model
        self._include_usage = include_usage
        self._id = f"chatcmpl-{uuid.uuid4().hex}"
        self._created = int(time.time())
        self._started: set[int] = set()
        self._calls: dict[int, int] = {}     # candidate -> tool calls sent so far
        self._finished = False
        self._usage: wire.UsageMetadata | None = None

    def feed(self, chunk: bytes) -> Sequence[bytes]:
        return self._translate(chunk)

    def _event(self, data: bytes) -> list[bytes]:
        try:
            raw = json.loads(data)
        except ValueError as exc:
            raise MalformedReply("The Gemini provider streamed an event that is not "
                                 "JSON.") from exc
        if isinstance(raw, dict) and "error" in raw:
            try:
                message = wire.ErrorResponse.model_validate(raw).error.message
            except ValidationError:
                message = "the provider failed mid-stream"
            raise ProviderStreamError(f"The Gemini provider failed mid-stream: {message}")
        try:
            reply = wire.GenerateContentResponse.model_validate(raw)
        except ValidationError as exc:
            raise MalformedReply(f"The Gemini provider streamed an event that does not fit "
                                 f"its format: {exc.errors()[0]['msg']}.") from exc
        self._usage = reply.usage_metadata or self._usage
        out = []
        for number, candidate in enumerate(reply.candidates or []):
            index = candidate.index if candidate.index is not None else number
            out += [_frame(self._chunk(index, delta, None))
                    for delta in self._deltas(index, candidate)]
            if candidate.finish_reason:
                self._finished = True
                reason = "tool_calls" if self._calls.get(index) else _finish(candidate)
                out.append(_frame(self._chunk(index, {}, reason)))
        return out

    def _deltas(self, index: int, candidate: wire.Candidate) -> list[dict[str, Any]]:
        deltas: list[dict[str, Any]] = []
        if index not in self._started:
            self._started.add(index)
            deltas.append({"role": "assistant", "content": ""})
        for part in candidate.content.parts if candidate.content else []:
            if part.text:
                deltas.append({"reasoning_content" if part.thought else "content": part.text})
            elif part.function_call is not None:
                deltas.append({"tool_calls": [self._call(index, part.function_call)]})
        return deltas

    def _call(self, index: int, call: wire.FunctionCall) -> dict[str, Any]:
        number = self._calls.get(index, 0)
        self._calls[index] = number + 1
        return {"index": number, "id": call.id or f"call_{uuid.uuid4().hex[:24]}",
                "type": "function", "function": {"name": call.name,
                                                 "arguments": json.dumps(call.args or {})}}

    def _chunk(self, index: int, delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model,
                "choices": [{"index": index, "delta": delta, "finish_reason": reason}]}

    def close(self) -> Sequence[bytes]:
        out = self._translate_rest()
        if not self._finished:
            raise ProviderStreamError("The Gemini provider's stream ended before it said "
                                      "why it finished (cut short).")
        if self._include_usage:
            out.append(_frame({"id": self._id, "object": "chat.completion.chunk",
                               "created": self._created, "model": self._model,
                               "choices": [], "usage": openai_usage(self._usage)}))
        return [*out, _DONE]


def _finish(candidate: wire.Candidate) -> str:
    return finish_reason(candidate.finish_reason, False)
