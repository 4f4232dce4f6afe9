"""Tool calls as OpenAI's clients send and expect them, over what llama.cpp accepts.

Requests: llama.cpp ignores the legacy ``functions`` / ``function_call`` and takes
``tool_choice`` only as a string (an object is logged as a wrong type and treated as
``auto``). So legacy fields become ``tools`` / ``tool_choice`` (and legacy turns in the
history, ``function_call`` and ``role: "function"``, tool calls and results), and a named choice
(``{"type": "function", "function": {"name": "f"}}``) becomes ``required`` with only ``f`` in
``tools``: the same constraint, in a form the child honours.

Replies (``ToolReplies``): ``content`` is ``null`` beside ``tool_calls``, as OpenAI sends it;
a legacy request gets its answer back in legacy form (``message.function_call``,
``finish_reason: "function_call"``), whole or streamed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from companion.core.errors import BadRequestError
from companion.families.translation import WholeReply


@dataclass(frozen=True)
class ToolRequest:
    body: dict[str, Any]   # what the child gets
    uses_tools: bool       # the request offers tools
    legacy: bool           # the client spoke ``functions``; answer it in that form


def _legacy_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _named(choice: Any) -> str | None:
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        return name if isinstance(name, str) else None
    return None


def _legacy_history(messages: list[Any]) -> list[Any]:
    """Legacy turns as tool turns: an assistant ``function_call`` becomes a tool call, and
    the ``function`` message after it that call's ``tool`` result (paired by an id)."""
    out, last_id = [], ""
    for number, message in enumerate(messages):
        if not isinstance(message, dict):
            out.append(message)
        elif isinstance(message.get("function_call"), dict):
            last_id = f"call_{number}"
            rest = {k: v for k, v in message.items() if k != "function_call"}
            out.append({**rest, "tool_calls": [{"id": last_id, "type": "function",
                                                 "function": message["function_call"]}]})
        elif message.get("role") == "function":
            rest = {k: v for k, v in message.items() if k != "role"}
            out.append({**rest, "role": "tool", "tool_call_id": last_id})
        else:
            out.append(message)
    return out


def chat_request(body: dict[str, Any]) -> ToolRequest:
    """The chat body as llama.cpp understands its tool fields."""
    out = dict(body)
    legacy = "functions" in out and "tools" not in out
    if legacy:
        out["messages"] = _legacy_history(out["messages"])
        out["tools"] = [{"type": "function", "function": f} for f in out.pop("functions") or []]
        if "function_call" in out:
            out["tool_choice"] = _legacy_choice(out.pop("function_call"))
    name = _named(out.get("tool_choice"))
    if name is not None:
        chosen = [t for t in out.get("tools") or [] if _named(t) == name]
        if not chosen:
            raise BadRequestError(f"Invalid value for 'tool_choice': no function named "
                                  f"'{name}' in 'tools'.", code="invalid_value",
                                  param="function_call" if legacy else "tool_choice")
        out["tools"], out["tool_choice"] = chosen, "required"
    return ToolRequest(out, bool(out.get("tools")), legacy)


def _message(message: dict[str, Any], legacy: bool) -> None:
    calls = message.get("tool_calls")
    if not calls:
        return
    if not message.get("content"):
        message["content"] = None
    if legacy:
        message["function_call"] = calls[0].get("function")
        del message["tool_calls"]


def _delta(delta: dict[str, Any]) -> None:
    # A legacy answer holds one call: the first (index 0) of what the model streams.
    first = [c for c in delta.pop("tool_calls", None) or [] if c.get("index", 0) == 0]
    if first:
        function = first[0].get("function") or {}
        delta["function_call"] = {k: v for k, v in function.items() if v is not None}


def _choice(choice: dict[str, Any], legacy: bool) -> None:
    if "message" in choice:
        _message(choice["message"], legacy)
    elif legacy and isinstance(choice.get("delta"), dict):
        _delta(choice["delta"])
    if legacy and choice.get("finish_reason") == "tool_calls":
        choice["finish_reason"] = "function_call"


class ToolReplies:
    """A chat reply to a request with tools, as OpenAI shapes it (a ``ReplyTranslation``)."""

    relays_refusals: ClassVar[bool] = True

    def __init__(self, *, legacy: bool) -> None:
        self._legacy = legacy
        self._buffer = b""

    def _event(self, event: Any) -> Any:
        if isinstance(event, dict):
            for choice in event.get("choices") or []:
                if isinstance(choice, dict):
                    _choice(choice, self._legacy)
        return event

    def reply(self, whole: WholeReply) -> WholeReply:
        if whole.status != 200:
            return whole
        try:
            event = json.loads(whole.body)
        except ValueError:
            return whole
        return WholeReply(whole.status, whole.content_type,
                          json.dumps(self._event(event)).encode())

    def frames(self, chunk: bytes) -> Sequence[bytes]:
        """Whole SSE lines, rewritten; a line split across chunks waits for its end."""
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [self._line(line) + b"\n" for line in lines] if lines else ()

    def _line(self, line: bytes) -> bytes:
        if not line.startswith(b"data: {"):
            return line
        try:
            event = json.loads(line[6:])
        except ValueError:
            return line
        return b"data: " + json.dumps(self._event(event)).encode()

    def closing_frames(self) -> Sequence[bytes]:
        rest, self._buffer = self._buffer, b""
        return (rest,) if rest else ()
