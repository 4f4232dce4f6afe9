"""Anthropic's API as a provider of remote models (``DIALECT``, a ``ProviderDialect``): an
OpenAI chat body as a Messages request, and Anthropic's replies as OpenAI's.

Requests: system (and developer) messages join into ``system``; a ``tool`` message becomes a
user ``tool_result`` block and an assistant's ``tool_calls`` ``tool_use`` blocks (same ids);
consecutive turns of one role merge into one message, as Anthropic requires; ``max_tokens``
defaults to ``DEFAULT_MAX_TOKENS`` (Anthropic requires it); OpenAI's ``temperature`` (0 to 2)
is capped at Anthropic's 1. Replies: stop reasons map back (``end_turn`` and
``stop_sequence`` are ``stop``, ``max_tokens`` is ``length``, ``tool_use`` is ``tool_calls``);
a stream's events become ``chat.completion.chunk`` frames ending with ``data: [DONE]``, and its
``error`` event a ``ProviderStreamError``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from companion.core.errors import BadRequestError
from companion.families.anthropic import wire
from companion.families.provider import (
    MalformedReply,
    ProviderRequest,
    ProviderStreamError,
    parse_reply,
)
from companion.families.sse import EventStream

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
# Anthropic stop_reason -> OpenAI finish_reason.
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "tool_use": "tool_calls", "pause_turn": "stop", "refusal": "content_filter",
                  "model_context_window_exceeded": "length"}
# Anthropic request members OpenAI has no name for: they pass through as they are, so a
# record's ``extra_body`` can set them (``{"thinking": {"type": "enabled", ...}}``).
ANTHROPIC_ONLY = ("thinking", "container", "mcp_servers", "context_management")
_EVENT: TypeAdapter[Any] = TypeAdapter(wire.StreamEvent)
def _image(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                            "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content (a string or parts) as Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content:
        if part.get("type") == "text":
            if part.get("text"):  # Anthropic refuses empty text blocks
                blocks.append({"type": "text", "text": part["text"]})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            blocks.append(_image(image["url"] if isinstance(image, dict) else str(image)))
        else:
            raise BadRequestError(f"A {part.get('type')!r} content part cannot be sent to an "
                                  "Anthropic model.", param="messages")
    return blocks


def _text_of(content: Any) -> str:
    return "\n".join(b["text"] for b in _blocks(content) if b["type"] == "text")


def _arguments(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}") if isinstance(raw, str) else raw
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {}


def _turn(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    role = message.get("role")
    if role == "tool":
        return "user", [{"type": "tool_result", "tool_use_id": str(message.get("tool_call_id")),
                         "content": _text_of(message.get("content"))}]
    blocks = _blocks(message.get("content"))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                       "input": _arguments(function.get("arguments"))})
    return ("assistant" if role == "assistant" else "user"), blocks


def messages(openai_messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """(system, Anthropic messages): one role per turn, consecutive turns merged."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in openai_messages:
        if message.get("role") in ("system", "developer"):
            system.append(_text_of(message.get("content")))
            continue
        role, blocks = _turn(message)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"] += blocks
        else:
            out.append({"role": role, "content": blocks})
    return "\n\n".join(s for s in system if s), out


def _tool_choice(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    serial = body.get("parallel_tool_calls") is False
    if choice is None and not serial:
        return None
    if isinstance(choice, dict):
        out: dict[str, Any] = {"type": "tool",
                               "name": (choice.get("function") or {}).get("name")}
    else:
        out = {"type": {"required": "any", "none": "none"}.get(str(choice), "auto")}
    if serial and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def _tools(body: dict[str, Any]) -> dict[str, Any]:
    tools = [t.get("function") or {} for t in body.get("tools") or []
             if t.get("type") == "function"]
    if not tools:
        return {}
    out: dict[str, Any] = {"tools": [
        {"name": f.get("name"), "description": f.get("description") or "",
         "input_schema": f.get("parameters") or {"type": "object", "properties": {}}}
        for f in tools]}
    choice = _tool_choice(body)
    if choice is not None:
        out["tool_choice"] = choice
    return out


def _conversation(body: dict[str, Any], model: str) -> dict[str, Any]:
    system, turns = messages(body.get("messages") or [])
    out: dict[str, Any] = {"model": model, "messages": turns, **_tools(body)}
    if system:
        out["system"] = system
    return out


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if body.get("temperature") is not None:
        out["temperature"] = min(float(body["temperature"]), 1.0)
    for name in ("top_p", "top_k"):
        if body.get(name) is not None:
            out[name] = body[name]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    return out


def openai_usage(usage: wire.Usage) -> dict[str, int]:
    prompt = (usage.input_tokens + (usage.cache_creation_input_tokens or 0)
              + (usage.cache_read_input_tokens or 0))
    return {"prompt_tokens": prompt, "completion_tokens": usage.output_tokens,
            "total_tokens": prompt + usage.output_tokens}


def _stopping_word(reason: str | None, sequence: str | None) -> dict[str, str]:
    """The stop sequence that ended the reply, under llama.cpp's name for it, so an
    Anthropic client of an Anthropic model still learns it through the OpenAI pivot (OpenAI's
    clients ignore the member)."""
    return {"stopping_word": sequence} if reason == "stop_sequence" and sequence else {}


def completion_id(message_id: str) -> str:
    return "chatcmpl-" + message_id.removeprefix("msg_")


class AnthropicDialect:
    name = "anthropic"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key, "anthropic-version": API_VERSION}

    def chat(self, body: dict[str, Any], model: str) -> ProviderRequest:
        request = {**{k: body[k] for k in ANTHROPIC_ONLY if k in body},
                   **_conversation(body, model), **_sampling(body),
                   "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens")
                   or DEFAULT_MAX_TOKENS}
        stream = bool(body.get("stream"))
        if stream:
            request["stream"] = True
        return ProviderRequest("POST", "/messages", request, stream=stream)

    def chat_reply(self, raw: bytes, model: str) -> dict[str, Any]:
        reply = parse_reply(wire.Message, raw, "Anthropic")
        text = "".join(b.text for b in reply.content if isinstance(b, wire.ReplyText))
        calls = [{"id": b.id, "type": "function",
                  "function": {"name": b.name, "arguments": json.dumps(b.input)}}
                 for b in reply.content if isinstance(b, wire.ReplyToolUse)]
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            message["tool_calls"] = calls
        elif not text:
            message["content"] = ""
        choice = {"index": 0, "message": message, "logprobs": None,
                  "finish_reason": FINISH_REASONS.get(reply.stop_reason or "", "stop"),
                  **_stopping_word(reply.stop_reason, reply.stop_sequence)}
        return {"id": completion_id(reply.id), "object": "chat.completion",
                "created": int(time.time()), "model": model, "choices": [choice],
                "usage": openai_usage(reply.usage)}

    def chat_stream(self, model: str, include_usage: bool) -> StreamTranslator:
        return StreamTranslator(model, include_usage)

    def embeddings(self, body: dict[str, Any], model: str) -> ProviderRequest:
        raise BadRequestError("Anthropic has no embeddings: use an embedding model of "
                              "another provider, or a local one.", param="model")

    def embeddings_reply(self, raw: bytes, model: str) -> dict[str, Any]:
        raise BadRequestError("Anthropic has no embeddings.", param="model")

    def count_tokens(self, body: dict[str, Any], model: str) -> ProviderRequest:
        return ProviderRequest("POST", "/messages/count_tokens", _conversation(body, model))

    def count_tokens_reply(self, raw: bytes) -> int:
        return parse_reply(wire.CountTokensReply, raw, "Anthropic").input_tokens

    def list_models(self) -> ProviderRequest:
        return ProviderRequest("GET", "/models", query={"limit": "1000"})

    def models_reply(self, raw: bytes) -> list[str]:
        return [m.id for m in parse_reply(wire.ModelList, raw, "Anthropic").data]

    def error_message(self, status: int, raw: bytes) -> str:
        try:
            return wire.ErrorEnvelope.model_validate_json(raw).error.message
        except ValidationError:
            text = raw.decode("utf-8", errors="replace").strip()[:300]
            return text or f"HTTP {status}"


class StreamTranslator(EventStream[bytes]):
    """Anthropic's named server-sent events (split anywhere) as OpenAI chunk frames."""

    def __init__(self, model: str, include_usage: bool) -> None:
        super().__init__()
        self._model = model
        self._include_usage = include_usage
        self._id = "chatcmpl-"
        self._created = int(time.time())
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool call index
        self._usage = wire.Usage()
        self._stopped = False

    def feed(self, chunk: bytes) -> Sequence[bytes]:
        return self._translate(chunk)

    def close(self) -> Sequence[bytes]:
        frames = self._translate_rest()
        if not self._stopped:
            raise ProviderStreamError("Anthropic's stream ended before its message_stop "
                                      "(cut short).")
        return [*frames, b"data: [DONE]\n\n"]

    def _event(self, data: bytes) -> list[bytes]:
        try:
            event = _EVENT.validate_json(data)
        except ValidationError as exc:
            raise MalformedReply(f"Anthropic sent an unreadable stream event: "
                                 f"{exc.errors()[0]['msg']}") from exc
        if isinstance(event, wire.ErrorEvent):
            raise ProviderStreamError(f"Anthropic: {event.error.message}")
        if isinstance(event, wire.MessageStart):
            self._id = completion_id(event.message.id)
            self._usage = event.message.usage
            return [self._frame({"role": "assistant", "content": ""})]
        if isinstance(event, wire.ContentBlockStart):
            return self._block(event)
        if isinstance(event, wire.ContentBlockDelta):
            return self._delta(event)
        if isinstance(event, wire.MessageDelta):
            return self._finish(event)
        if isinstance(event, wire.MessageStop):
            self._stopped = True
            return [self._chunk([], usage=openai_usage(self._usage))] if self._include_usage \
                else []
        return []

    def _block(self, event: wire.ContentBlockStart) -> list[bytes]:
        block = event.content_block
        if isinstance(block, wire.ReplyText):
            return [self._frame({"content": block.text})] if block.text else []
        if not isinstance(block, wire.ReplyToolUse):
            return []
        self._tools[event.index] = len(self._tools)
        call = {"index": self._tools[event.index], "id": block.id, "type": "function",
                "function": {"name": block.name, "arguments": ""}}
        return [self._frame({"tool_calls": [call]})]

    def _delta(self, event: wire.ContentBlockDelta) -> list[bytes]:
        delta = event.delta
        if isinstance(delta, wire.TextDelta):
            return [self._frame({"content": delta.text})]
        if isinstance(delta, wire.InputJsonDelta) and event.index in self._tools:
            call = {"index": self._tools[event.index],
                    "function": {"arguments": delta.partial_json}}
            return [self._frame({"tool_calls": [call]})]
        return []

    def _finish(self, event: wire.MessageDelta) -> list[bytes]:
        self._usage.output_tokens = event.usage.output_tokens
        if event.usage.input_tokens is not None:
            self._usage.input_tokens = event.usage.input_tokens
        reason = FINISH_REASONS.get(event.delta.stop_reason or "", "stop")
        return [self._frame({}, finish_reason=reason,
                            **_stopping_word(event.delta.stop_reason, event.delta.stop_sequence))]

    def _frame(self, delta: dict[str, Any], finish_reason: str | None = None,
               **extra: Any) -> bytes:
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish_reason, **extra}])

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        chunk = {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                 "model": self._model, "choices": choices, **extra}
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"


DIALECT = AnthropicDialect()
