"""Ollama's API under ``/api``: its declaration, and the translation to and from the
OpenAI-shaped calls our model servers answer.

Requests: ``/api/chat`` and ``/api/generate`` become ``/v1/chat/completions`` (or
``/v1/completions`` for ``raw`` prompts) with Ollama's ``options`` mapped to OpenAI fields;
``/api/embed`` becomes ``/v1/embeddings``. Replies: the OpenAI stream (SSE) is re-emitted as
Ollama's objects (one JSON per line), ending with a ``done`` object carrying Ollama's counts
and durations (nanoseconds). A model server's refusal becomes our error, rendered as Ollama's
``{"error": "..."}``, also as the last line of a stream that fails midway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from companion.core.errors import BadRequestError, BodhiError
from companion.families.family import NDJSON, Family
from companion.families.sse import ChildChunks
from companion.families.translation import WholeReply


def error_body(error: BodhiError) -> dict[str, Any]:
    return {"error": error.message}


FAMILY = Family("ollama", prefixes=("/api/",), error_body=error_body, stream=NDJSON)

# What Ollama answers whole replies with (aiohttp's ``json_response`` says the same).
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
# Ollama option name -> OpenAI / llama.cpp request field.
_OPTIONS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "min_p": "min_p",
            "seed": "seed", "num_predict": "max_tokens", "stop": "stop",
            "repeat_penalty": "repeat_penalty", "presence_penalty": "presence_penalty",
            "frequency_penalty": "frequency_penalty", "typical_p": "typical_p",
            "repeat_last_n": "repeat_last_n", "mirostat": "mirostat",
            "mirostat_tau": "mirostat_tau", "mirostat_eta": "mirostat_eta"}


# Ollama model parameter (``/api/create``) -> llama-server launch flag.
_LAUNCH_PARAMETERS = {"num_ctx": "--ctx-size", "num_batch": "--batch-size",
                      "num_gpu": "--n-gpu-layers", "num_thread": "--threads",
                      "num_keep": "--keep"}


def alias_params(parameters: Any) -> tuple[dict[str, Any], list[str]]:
    """Ollama's ``parameters`` of a created model as an alias's (request_params,
    context_params); a parameter with no counterpart is refused, not dropped."""
    if parameters is None:
        return {}, []
    if not isinstance(parameters, dict):
        raise BadRequestError("'parameters' must be an object.", param="parameters")
    request: dict[str, Any] = {}
    launch: list[str] = []
    for name, value in parameters.items():
        if name in _OPTIONS:
            request[_OPTIONS[name]] = value
        elif name in _LAUNCH_PARAMETERS and isinstance(value, int):
            launch.append(f"{_LAUNCH_PARAMETERS[name]} {value}")
        else:
            raise BadRequestError(f"The parameter {name!r} is not supported here (supported: "
                                  f"{', '.join(sorted([*_OPTIONS, *_LAUNCH_PARAMETERS]))}).",
                                  param="parameters")
    return request, launch


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _options(request: dict[str, Any]) -> dict[str, Any]:
    options = request.get("options") or {}
    if not isinstance(options, dict):
        raise BadRequestError("'options' must be an object.", param="options")
    mapped = {_OPTIONS[k]: v for k, v in options.items() if k in _OPTIONS and v is not None}
    if mapped.get("max_tokens", 0) < 0:  # Ollama's -1: no limit
        mapped.pop("max_tokens")
    return mapped


def _response_format(fmt: Any) -> dict[str, Any] | None:
    if fmt in (None, ""):
        return None
    if fmt == "json":
        return {"type": "json_object"}
    if isinstance(fmt, dict):
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": fmt}}
    raise BadRequestError("'format' must be \"json\" or a JSON schema.", param="format")


def _content(message: dict[str, Any]) -> str | list[dict[str, Any]]:
    text = str(message.get("content") or "")
    images = message.get("images") or []
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}}
              for image in images]
    return parts


def _message(message: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"role": message.get("role", "user"),
                                 "content": _content(message)}
    calls = message.get("tool_calls")
    if calls:
        converted["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": c["function"]["name"],
                          "arguments": json.dumps(c["function"].get("arguments") or {})}}
            for i, c in enumerate(calls)]
    if message.get("tool_name"):
        converted["name"] = message["tool_name"]
    return converted


def _common(request: dict[str, Any], stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request["model"], "stream": stream, **_options(request)}
    response_format = _response_format(request.get("format"))
    if response_format:
        body["response_format"] = response_format
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def chat_body(request: dict[str, Any]) -> dict[str, Any]:
    body = _common(request, wants_stream(request))
    body["messages"] = [_message(m) for m in request.get("messages") or []]
    if request.get("tools"):
        body["tools"] = request["tools"]
    return body


def generate_body(request: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """(is a raw completion, OpenAI body)."""
    body = _common(request, wants_stream(request))
    if request.get("raw"):
        body["prompt"] = request.get("prompt") or ""
        return True, body
    messages = [{"role": "system", "content": request["system"]}] if request.get("system") else []
    messages.append(_message({"role": "user", "content": request.get("prompt") or "",
                              "images": request.get("images")}))
    body["messages"] = messages
    return False, body


def wants_stream(request: dict[str, Any]) -> bool:
    return request.get("stream") is not False  # Ollama streams unless told not to


def embed_body(request: dict[str, Any]) -> dict[str, Any]:
    text = request.get("input", request.get("prompt"))
    if text is None or text == []:
        raise BadRequestError("'input' is required.", param="input")
    body = {"model": request["model"], "input": text}
    if request.get("dimensions"):
        body["dimensions"] = request["dimensions"]
    return body


def embed_reply(model: str, reply: dict[str, Any], started: float) -> dict[str, Any]:
    vectors = [item["embedding"] for item in sorted(reply.get("data", []),
                                                     key=lambda d: d.get("index", 0))]
    usage = reply.get("usage") or {}
    return {"model": model, "embeddings": vectors, "total_duration": _ns_since(started),
            "load_duration": 0, "prompt_eval_count": usage.get("prompt_tokens", 0)}


def _ns_since(started: float) -> int:
    return int((time.monotonic() - started) * 1e9)


class ReplyTranslator(ChildChunks[dict[str, Any]]):
    """Turns an OpenAI reply (streamed or whole) into Ollama's chat or generate objects.

    ``feed``, ``finish`` and ``whole`` work on objects; ``reply``, ``frames`` and
    ``closing_frames`` put them on the wire for the relay (a ``ReplyTranslation``).
    """

    relays_refusals: ClassVar[bool] = False

    def __init__(self, model: str, *, chat: bool) -> None:
        super().__init__()
        self._model = model
        self._chat = chat
        self._started = time.monotonic()
        self._usage: dict[str, Any] = {}
        self._timings: dict[str, Any] = {}
        self._finish: str | None = None
        self._calls: dict[int, dict[str, Any]] = {}

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """Objects for the complete SSE events in ``chunk`` (and what was left before)."""
        return self._translate(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        text = self._absorb(chunk)
        return [self._piece(text)] if text else []

    def _absorb(self, event: dict[str, Any]) -> str:
        """Remember usage, timings, finish reason and tool calls; return new text."""
        self._usage = event.get("usage") or self._usage
        self._timings = event.get("timings") or self._timings
        text = ""
        for choice in event.get("choices") or []:
            self._finish = choice.get("finish_reason") or self._finish
            delta = choice.get("delta") or choice.get("message") or {}
            text += str(choice.get("text") or delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                self._add_call(call)
        return text

    def _add_call(self, call: dict[str, Any]) -> None:
        slot = self._calls.setdefault(int(call.get("index", len(self._calls))),
                                      {"name": "", "arguments": ""})
        function = call.get("function") or {}
        slot["name"] += function.get("name") or ""
        slot["arguments"] += function.get("arguments") or ""

    def _piece(self, text: str, *, done: bool = False) -> dict[str, Any]:
        base: dict[str, Any] = {"model": self._model, "created_at": now_iso()}
        if self._chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if done and self._calls:
                message["tool_calls"] = [_ollama_call(c) for c in self._calls.values()]
            base["message"] = message
        else:
            base["response"] = text
        base["done"] = done
        return base

    def finish(self, text: str = "") -> dict[str, Any]:
        """The closing ``done`` object with Ollama's counts and durations."""
        final = self._piece(text, done=True)
        timings = self._timings
        prompt_ms = float(timings.get("prompt_ms") or 0)
        predicted_ms = float(timings.get("predicted_ms") or 0)
        final.update({
            "done_reason": "length" if self._finish == "length" else "stop",
            "total_duration": _ns_since(self._started), "load_duration": 0,
            "prompt_eval_count": self._usage.get("prompt_tokens", timings.get("prompt_n", 0)),
            "prompt_eval_duration": int(prompt_ms * 1e6),
            "eval_count": self._usage.get("completion_tokens", timings.get("predicted_n", 0)),
            "eval_duration": int(predicted_ms * 1e6)})
        return final

    def whole(self, reply: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed OpenAI reply as one Ollama object."""
        text = self._absorb(reply)
        return self.finish(text)

    def reply(self, whole: WholeReply) -> WholeReply:
        body = json.dumps(self.whole(json.loads(whole.body))).encode()
        return WholeReply(200, JSON_CONTENT_TYPE, body)

    def frames(self, chunk: bytes) -> Sequence[bytes]:
        return [NDJSON.frame(item) for item in self.feed(chunk)]

    def closing_frames(self) -> Sequence[bytes]:
        rest = self._translate_rest()
        return (*(NDJSON.frame(item) for item in rest), NDJSON.frame(self.finish()))


def _ollama_call(call: dict[str, Any]) -> dict[str, Any]:
    try:
        arguments = json.loads(call["arguments"] or "{}")
    except ValueError:
        arguments = {"_raw": call["arguments"]}
    return {"function": {"name": call["name"], "arguments": arguments}}
