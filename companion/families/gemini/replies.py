"""OpenAI chat replies as Gemini ``GenerateContentResponse`` objects, whole or streamed.

A stream's text goes out as it comes, one chunk per OpenAI chunk. Google sends a function call
whole, so the pieces of a streamed tool call are gathered and go out with the finish, in the
last chunk, which also carries ``finishReason`` and ``usageMetadata`` (OpenAI sends the usage
in a chunk of its own after the finish). A model server's error event mid-stream becomes our
``UpstreamError``, which the relay writes as Gemini's error event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from companion.core.errors import UpstreamError
from companion.families.gemini.client import JSON_CONTENT_TYPE, SSE
from companion.families.sse import ChildChunks
from companion.families.translation import WholeReply

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP",
           "function_call": "STOP", "content_filter": "SAFETY"}


def finish_reason(openai: str | None) -> str:
    return _FINISH.get(openai or "stop", "OTHER")


def _args(arguments: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _call_part(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    part: dict[str, Any] = {"name": function.get("name") or "",
                            "args": _args(function.get("arguments") or "")}
    if call.get("id"):
        part["id"] = call["id"]
    return {"functionCall": part}


def usage_metadata(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = int(usage.get("prompt_tokens") or 0)
    output = int(usage.get("completion_tokens") or 0)
    return {"promptTokenCount": prompt, "candidatesTokenCount": output,
            "totalTokenCount": int(usage.get("total_tokens") or prompt + output)}


def _candidate(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message") or {}
    parts: list[dict[str, Any]] = []
    if message.get("reasoning_content"):  # llama.cpp's thinking, as Google marks it
        parts.append({"text": message["reasoning_content"], "thought": True})
    if message.get("content"):
        parts.append({"text": message["content"]})
    parts += [_call_part(c) for c in message.get("tool_calls") or []]
    return {"content": {"role": "model", "parts": parts},
            "finishReason": finish_reason(choice.get("finish_reason")),
            "index": choice.get("index", 0)}


def whole_response(reply: dict[str, Any], model: str) -> dict[str, Any]:
    """A ``chat.completion`` as one ``GenerateContentResponse``."""
    response: dict[str, Any] = {
        "candidates": [_candidate(c) for c in reply.get("choices") or []],
        "usageMetadata": usage_metadata(reply.get("usage") or {}), "modelVersion": model}
    if reply.get("id"):
        response["responseId"] = str(reply["id"])
    return response


class ReplyTranslator(ChildChunks[bytes]):
    """OpenAI replies to a Gemini client (a ``ReplyTranslation``). ``array``: the reply of
    ``streamGenerateContent`` without ``alt=sse``, a JSON array of responses."""

    relays_refusals: ClassVar[bool] = False

    def __init__(self, model: str, *, array: bool = False) -> None:
        super().__init__()
        self._model = model
        self._array = array
        self._id: str | None = None
        self._calls: dict[tuple[int, int], dict[str, Any]] = {}  # (choice, call) -> call
        self._finish: dict[int, str] = {}
        self._usage: dict[str, Any] | None = None

    def reply(self, whole: WholeReply) -> WholeReply:
        try:
            reply = json.loads(whole.body)
        except ValueError as exc:
            raise UpstreamError("The model server's reply is not JSON.",
                                code="model_server_reply") from exc
        response = whole_response(reply, self._model)
        body = [response] if self._array else response
        return WholeReply(200, JSON_CONTENT_TYPE, json.dumps(body).encode())

    def frames(self, chunk: bytes) -> Sequence[bytes]:
        return self._translate(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        return [SSE.frame(response) for response in self._absorb(chunk)]

    def _absorb(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self._id = self._id or event.get("id")
        self._usage = event.get("usage") or self._usage
        candidates = []
        for choice in event.get("choices") or []:
            candidate = self._choice(choice)
            if candidate is not None:
                candidates.append(candidate)
        return [self._response(candidates)] if candidates else []

    def _choice(self, choice: dict[str, Any]) -> dict[str, Any] | None:
        index = int(choice.get("index", 0))
        delta = choice.get("delta") or {}
        for call in delta.get("tool_calls") or []:
            slot = self._calls.setdefault((index, int(call.get("index", 0))),
                                          {"id": None, "function": {"name": "",
                                                                    "arguments": ""}})
            slot["id"] = slot["id"] or call.get("id")
            function = call.get("function") or {}
            slot["function"]["name"] += function.get("name") or ""
            slot["function"]["arguments"] += function.get("arguments") or ""
        if choice.get("finish_reason"):
            self._finish[index] = choice["finish_reason"]
        parts: list[dict[str, Any]] = []
        if delta.get("reasoning_content"):
            parts.append({"text": delta["reasoning_content"], "thought": True})
        if delta.get("content"):
            parts.append({"text": delta["content"]})
        if not parts:
            return None
        return {"content": {"role": "model", "parts": parts}, "index": index}

    def _response(self, candidates: list[dict[str, Any]]) -> dict[str, Any]:
        response: dict[str, Any] = {"candidates": candidates, "modelVersion": self._model}
        if self._id:
            response["responseId"] = self._id
        return response

    def closing_frames(self) -> Sequence[bytes]:
        """The last chunk: gathered function calls, finish reasons and the usage."""
        out = self._translate_rest()
        candidates = []
        for index, reason in sorted(self._finish.items() or [(0, "stop")]):
            parts = [_call_part(c) for (choice, _), c in sorted(self._calls.items())
                     if choice == index]
            candidates.append({"content": {"role": "model", "parts": parts},
                               "finishReason": finish_reason(reason), "index": index})
        last = self._response(candidates)
        last["usageMetadata"] = usage_metadata(self._usage or {})
        return [*out, SSE.frame(last)]

