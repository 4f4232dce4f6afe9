"""Anthropic's clients over the OpenAI-shaped pivot: their Messages request as an OpenAI chat
body (``chat_body``), and the model's OpenAI reply, whole or streamed, as Anthropic's message or
its named server-sent events (``ReplyTranslator``).

Requests: ``system`` becomes a system message; a ``tool_result`` block becomes a ``tool``
message (ahead of the rest of its user turn, as OpenAI orders them) and ``tool_use`` an
assistant ``tool_calls`` entry with the same id; images become ``image_url`` parts (data URLs
for base64); a plain-text document becomes text. ``tool_choice`` ``any`` is ``required``,
``{"type": "tool", "name": f}`` is ``required`` with only ``f`` offered (the form llama.cpp
honours, as ``openai_tools.py`` does for OpenAI's named choice). ``metadata.user_id`` is
OpenAI's ``user``; ``thinking`` is accepted and not translated: the pivot has no counterpart.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import ValidationError

from companion.core.errors import BadRequestError, UpstreamError
from companion.families.anthropic import wire
from companion.families.family import NAMED_SSE
from companion.families.sse import ChildChunks
from companion.families.translation import WholeReply

JSON_CONTENT_TYPE = "application/json"
# OpenAI finish_reason -> Anthropic stop_reason.
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}
# A union's failed branch adds its own name (``str``, ``list[...]``) to an error's location.
_BRANCHES = frozenset({"str", "int", "bool", "float", "dict", "list", "none"})


def describe_error(exc: ValidationError) -> BadRequestError:
    """A schema error as Anthropic words it: ``messages.0.role: Input should be ...``. Of a
    union's branches, the one that went deepest says what was meant (a block list with a bad
    block, rather than "not a string")."""
    first = max(exc.errors(), key=lambda error: len(error["loc"]))
    loc = ".".join(str(part) for part in first["loc"]
                   if not (isinstance(part, str) and ("[" in part or part in _BRANCHES)))
    return BadRequestError(f"{loc}: {first['msg']}" if loc else first["msg"],
                           code="invalid_request", param=loc or None)


def _text(blocks: str | list[wire.TextBlock] | None) -> str:
    if blocks is None or isinstance(blocks, str):
        return blocks or ""
    return "\n\n".join(block.text for block in blocks)


def _image(source: wire.Base64Source | wire.UrlSource) -> dict[str, Any]:
    if isinstance(source, wire.UrlSource):
        url = source.url
    else:
        url = f"data:{source.media_type};base64,{source.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _part(block: wire.TextBlock | wire.ImageBlock | wire.DocumentBlock, where: str
          ) -> dict[str, Any]:
    if isinstance(block, wire.TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, wire.ImageBlock):
        return _image(block.source)
    if isinstance(block.source, wire.TextSource):
        title = f"{block.title}\n\n" if block.title else ""
        return {"type": "text", "text": title + block.source.data}
    raise BadRequestError(f"{where}: only plain-text documents are supported here.",
                          param=where)


def _tool_result(block: wire.ToolResultBlock) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A ``tool`` message, and the result's images (a tool message carries only text)."""
    content = block.content
    if isinstance(content, list):
        text = "\n".join(p.text for p in content if isinstance(p, wire.TextBlock))
        images = [_image(p.source) for p in content if isinstance(p, wire.ImageBlock)]
    else:
        text, images = content or "", []
    if block.is_error:
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": text}, images


def _user(blocks: list[wire.Block], where: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for number, block in enumerate(blocks):
        if isinstance(block, wire.ToolResultBlock):
            message, images = _tool_result(block)
            tools.append(message)
            parts += images
        elif isinstance(block, wire.TextBlock | wire.ImageBlock | wire.DocumentBlock):
            parts.append(_part(block, f"{where}.{number}"))
        else:
            raise BadRequestError(f"{where}.{number}: a user message cannot hold a "
                                  f"{block.type} block.", param=f"{where}.{number}")
    if parts:
        tools.append({"role": "user", "content": parts})
    return tools


def _assistant(blocks: list[wire.Block], where: str) -> dict[str, Any]:
    text, calls = [], []
    for number, block in enumerate(blocks):
        if isinstance(block, wire.TextBlock):
            text.append(block.text)
        elif isinstance(block, wire.ToolUseBlock):
            calls.append({"id": block.id, "type": "function", "function": {
                "name": block.name, "arguments": json.dumps(block.input)}})
        elif not isinstance(block, wire.ThinkingBlock | wire.RedactedThinkingBlock):
            raise BadRequestError(f"{where}.{number}: an assistant message cannot hold a "
                                  f"{block.type} block.", param=f"{where}.{number}")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _messages(request: wire._Conversation) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": _text(request.system)})
    for number, message in enumerate(request.messages):
        where = f"messages.{number}.content"
        if isinstance(message.content, str):
            out.append({"role": message.role, "content": message.content})
        elif message.role == "user":
            out += _user(message.content, where)
        else:
            out.append(_assistant(message.content, where))
    return out


def _tools(request: wire._Conversation) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` as the child takes them."""
    if not request.tools:
        return {}
    tools: list[dict[str, Any]] = [{"type": "function", "function": {
        "name": t.name, "description": t.description or "", "parameters": t.input_schema}}
        for t in request.tools]
    choice = request.tool_choice
    out: dict[str, Any] = {"tools": tools}
    if choice is None:
        return out
    out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none",
                          "tool": "required"}[choice.type]
    if choice.type == "tool":
        out["tools"] = [t for t in tools if t["function"]["name"] == choice.name]
        if not out["tools"]:
            raise BadRequestError(f"tool_choice.name: no tool named {choice.name!r} in "
                                  "'tools'.", param="tool_choice.name")
    if choice.disable_parallel_tool_use:
        out["parallel_tool_calls"] = False
    return out


def chat_body(raw: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request (validated with ``wire.MessagesRequest``) as an OpenAI
    chat-completions body."""
    request = wire.MessagesRequest.model_validate(raw)
    body: dict[str, Any] = {"model": request.model, "messages": _messages(request),
                            "max_tokens": request.max_tokens, **_tools(request)}
    for name in ("temperature", "top_p", "top_k"):
        if getattr(request, name) is not None:
            body[name] = getattr(request, name)
    if request.stop_sequences:
        body["stop"] = request.stop_sequences
    if request.metadata is not None and request.metadata.user_id:
        body["user"] = request.metadata.user_id
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def count_body(raw: dict[str, Any]) -> dict[str, Any]:
    """A count_tokens request as the OpenAI chat body whose prompt it measures."""
    request = wire.CountTokensRequest.model_validate(raw)
    return {"model": request.model, "messages": _messages(request), **_tools(request)}


def message_id(openai_id: Any) -> str:
    suffix = str(openai_id or "").removeprefix("chatcmpl-") or secrets.token_hex(12)
    return f"msg_{suffix}"


def _input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_value": value}


def _stop_reason(finish: str | None, stop: str | None) -> str | None:
    if finish == "stop" and stop:
        return "stop_sequence"
    return STOP_REASONS.get(finish or "", "end_turn") if finish else None


def _stop_word(choice: dict[str, Any], reply: dict[str, Any]) -> str | None:
    """The stop sequence that ended the reply, when the model server says (llama.cpp:
    ``stopping_word`` beside its ``stop_type`` ``"word"``)."""
    for source in (choice, reply):
        word = source.get("stopping_word")
        if isinstance(word, str) and word:
            return word
    return None


def message(reply: dict[str, Any], model: str) -> dict[str, Any]:
    """A whole OpenAI ``chat.completion`` as an Anthropic message."""
    choice = (reply.get("choices") or [{}])[0]
    said = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if said.get("content"):
        content.append({"type": "text", "text": str(said["content"])})
    for call in said.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id") or tool_id(),
                        "name": function.get("name", ""),
                        "input": _input(function.get("arguments") or "")})
    stop = _stop_word(choice, reply)
    usage = reply.get("usage") or {}
    return {"id": message_id(reply.get("id")), "type": "message", "role": "assistant",
            "model": model, "content": content,
            "stop_reason": _stop_reason(choice.get("finish_reason"), stop),
            "stop_sequence": stop,
            "usage": {"input_tokens": usage.get("prompt_tokens", 0),
                      "output_tokens": usage.get("completion_tokens", 0)}}


def tool_id() -> str:
    return f"toolu_{secrets.token_hex(12)}"


class ReplyTranslator(ChildChunks[dict[str, Any]]):
    """The OpenAI reply to one request as Anthropic's client expects it (a
    ``ReplyTranslation``): ``message`` once, or the stream's events in Anthropic's order
    (``message_start``, ``ping``, each block's start, deltas and stop, ``message_delta``,
    ``message_stop``), whatever the chunking of the model server's SSE."""

    relays_refusals: ClassVar[bool] = False

    def __init__(self, model: str) -> None:
        super().__init__()
        self._model = model
        self._started = False
        self._block: tuple[str, int] | None = None  # ("text", 0) or ("tool", openai index)
        self._call_id: str | None = None
        self._blocks = 0
        self._finish: str | None = None
        self._stop: str | None = None
        self._usage: dict[str, Any] = {}

    def reply(self, whole: WholeReply) -> WholeReply:
        try:
            reply = json.loads(whole.body)
        except ValueError as exc:
            raise UpstreamError("The model server's reply was not JSON.") from exc
        return WholeReply(200, JSON_CONTENT_TYPE,
                          json.dumps(message(reply, self._model)).encode())

    def frames(self, chunk: bytes) -> Sequence[bytes]:
        return [NAMED_SSE.frame(event) for event in self.feed(chunk)]

    def closing_frames(self) -> Sequence[bytes]:
        return [NAMED_SSE.frame(event) for event in self.finish()]

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Events for the complete SSE events in ``chunk`` (and what was left before)."""
        return self._translate(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._start(chunk)
        self._usage = chunk.get("usage") or self._usage
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text(str(delta["content"]))
            for call in delta.get("tool_calls") or []:
                events += self._call(call)
            self._finish = choice.get("finish_reason") or self._finish
            self._stop = _stop_word(choice, chunk) or self._stop
        return events

    def _start(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        started: dict[str, Any] = {
            "id": message_id(chunk.get("id")), "type": "message", "role": "assistant",
            "model": self._model, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}}
        return [{"type": "message_start", "message": started}, {"type": "ping"}]

    def _open(self, block: tuple[str, int], content: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        self._block = block
        events.append({"type": "content_block_start", "index": self._blocks,
                       "content_block": content})
        return events

    def _close(self) -> list[dict[str, Any]]:
        if self._block is None:
            return []
        self._block = None
        self._blocks += 1
        return [{"type": "content_block_stop", "index": self._blocks - 1}]

    def _text(self, text: str) -> list[dict[str, Any]]:
        events = [] if self._block == ("text", 0) else self._open(
            ("text", 0), {"type": "text", "text": ""})
        events.append({"type": "content_block_delta", "index": self._blocks,
                       "delta": {"type": "text_delta", "text": text}})
        return events

    def _call(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        function = call.get("function") or {}
        block = ("tool", int(call.get("index", 0)))
        events: list[dict[str, Any]] = []
        if self._block != block or call.get("id") not in (None, self._call_id):
            self._call_id = call.get("id") or tool_id()
            events = self._open(block, {"type": "tool_use", "id": self._call_id,
                                        "name": function.get("name") or "", "input": {}})
        if function.get("arguments"):
            events.append({"type": "content_block_delta", "index": self._blocks,
                           "delta": {"type": "input_json_delta",
                                     "partial_json": function["arguments"]}})
        return events

    def finish(self) -> list[dict[str, Any]]:
        """The closing events, once the model server's stream has ended."""
        events = self._translate_rest() + self._start({}) + self._close()
        usage = {"input_tokens": self._usage.get("prompt_tokens", 0),
                 "output_tokens": self._usage.get("completion_tokens", 0)}
        events.append({"type": "message_delta", "usage": usage, "delta": {
            "stop_reason": _stop_reason(self._finish or "stop", self._stop),
            "stop_sequence": self._stop}})
        events.append({"type": "message_stop"})
        return events
