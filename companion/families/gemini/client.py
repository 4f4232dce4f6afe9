"""Gemini clients over the OpenAI-shaped calls our models answer.

Requests: a ``GenerateContentRequest`` becomes an OpenAI chat body (``systemInstruction`` the
system message, ``model`` turns assistant turns, ``functionCall`` parts tool calls with made-up
ids that the ``functionResponse`` parts after them answer, in order and by name); ``embedContent``
and ``batchEmbedContents`` become one embeddings call. Replies: an OpenAI ``chat.completion``, or
its SSE chunks split anywhere, become ``GenerateContentResponse`` objects (Google streams a
function call whole, so streamed tool-call pieces are gathered and sent with the finish).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from companion.core.errors import BadRequestError
from companion.families.family import StreamFraming
from companion.families.gemini import wire
from companion.families.gemini.schema import to_json_schema

# Google frames each streamed ``GenerateContentResponse`` as one SSE event ending in CRLFs.
SSE = StreamFraming((("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                     ("X-Accel-Buffering", "no")), b"data: ", b"\r\n\r\n")
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"

_CHOICE = {"AUTO": "auto", "MODE_UNSPECIFIED": "auto", "VALIDATED": "auto", "ANY": "required",
           "NONE": "none"}


@dataclass
class _Calls:
    """Ids of the function calls not answered yet, oldest first."""

    pending: list[tuple[str, str]] = field(default_factory=list)  # (name, id)
    count: int = 0

    def call(self, given: str | None, name: str) -> str:
        self.count += 1
        call_id = given or f"call_{self.count}"
        self.pending.append((name, call_id))
        return call_id

    def answer(self, given: str | None, name: str, where: str) -> str:
        """The id of the call a response answers: by its id, else the oldest of its name."""
        for by_id in (True, False):
            for number, (pending_name, call_id) in enumerate(self.pending):
                if (call_id == given) if by_id else (pending_name == name):
                    del self.pending[number]
                    return call_id
        raise BadRequestError(f"Invalid value at '{where}': the functionResponse for "
                              f"'{name}' answers no earlier functionCall.", param=where)


def _text(parts: list[wire.Part]) -> str:
    return "".join(p.text for p in parts if p.text is not None and not p.thought)


# Audio goes as OpenAI's ``input_audio``, which names only these formats.
_AUDIO = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mp3": "mp3", "audio/mpeg": "mp3"}


def _blob(blob: wire.Blob) -> dict[str, Any]:
    if blob.mime_type in _AUDIO:
        return {"type": "input_audio",
                "input_audio": {"data": blob.data, "format": _AUDIO[blob.mime_type]}}
    return {"type": "image_url", "image_url": {"url": f"data:{blob.mime_type};base64,"
                                                      f"{blob.data}"}}


def _user_content(parts: list[wire.Part]) -> str | list[dict[str, Any]]:
    """One text part as a string; several parts (text, images, audio) as OpenAI's parts."""
    if len(parts) == 1 and parts[0].text is not None:
        return parts[0].text
    out: list[dict[str, Any]] = []
    for part in parts:
        if part.text is not None:
            out.append({"type": "text", "text": part.text})
        elif part.inline_data is not None:
            out.append(_blob(part.inline_data))
        elif part.file_data is not None:
            out.append({"type": "image_url", "image_url": {"url": part.file_data.file_uri}})
    return out


def _model_turn(content: wire.Content, calls: _Calls) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": _text(content.parts)}
    tool_calls = [{"id": calls.call(p.function_call.id, p.function_call.name), "type": "function",
                   "function": {"name": p.function_call.name,
                                "arguments": json.dumps(p.function_call.args or {})}}
                  for p in content.parts if p.function_call is not None]
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def _user_turn(content: wire.Content, calls: _Calls, where: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for number, part in enumerate(content.parts):
        answer = part.function_response
        if answer is not None:
            call_id = calls.answer(answer.id, answer.name, f"{where}.parts[{number}]")
            messages.append({"role": "tool", "tool_call_id": call_id, "name": answer.name,
                             "content": json.dumps(answer.response)})
    rest = [p for p in content.parts if p.function_response is None]
    if rest:
        messages.append({"role": "user", "content": _user_content(rest)})
    return messages


def _messages(request: wire.GenerateContentRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.system_instruction is not None and request.system_instruction.parts:
        messages.append({"role": "system", "content": _text(request.system_instruction.parts)})
    calls = _Calls()
    for number, content in enumerate(request.contents):
        if content.role == "model":
            messages.append(_model_turn(content, calls))
        else:
            messages += _user_turn(content, calls, f"contents[{number}]")
    return messages


def _tools(request: wire.GenerateContentRequest) -> list[dict[str, Any]]:
    tools = []
    for number, tool in enumerate(request.tools or []):
        if tool.function_declarations is None:
            raise BadRequestError(f"Invalid value at 'tools[{number}]': only "
                                  "functionDeclarations are supported here.",
                                  param=f"tools[{number}]")
        for declaration in tool.function_declarations:
            function: dict[str, Any] = {"name": declaration.name}
            if declaration.description:
                function["description"] = declaration.description
            if declaration.parameters_json_schema is not None:
                function["parameters"] = declaration.parameters_json_schema
            elif declaration.parameters is not None:
                function["parameters"] = to_json_schema(declaration.parameters)
            tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(request: wire.GenerateContentRequest, body: dict[str, Any]) -> None:
    config = request.tool_config.function_calling_config if request.tool_config else None
    if config is None or "tools" not in body:
        return
    body["tool_choice"] = _CHOICE[config.mode or "AUTO"]
    if config.allowed_function_names:
        allowed = set(config.allowed_function_names)
        body["tools"] = [t for t in body["tools"] if t["function"]["name"] in allowed]
        if not body["tools"]:
            raise BadRequestError("Invalid value at 'tool_config.function_calling_config."
                                  "allowed_function_names': no declared function has these "
                                  "names.", param="tool_config")


def _response_format(config: wire.GenerationConfig) -> dict[str, Any] | None:
    mime = config.response_mime_type
    if mime in (None, "text/plain"):
        return None
    if mime != "application/json":
        raise BadRequestError(f"Invalid value at 'generation_config.response_mime_type': "
                              f"{mime!r} is not supported here (text/plain, application/json).",
                              param="generation_config.response_mime_type")
    schema = config.response_json_schema
    if schema is None and config.response_schema is not None:
        schema = to_json_schema(config.response_schema)
    if schema is None:
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}


_CONFIG = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
           "max_output_tokens": "max_tokens", "stop_sequences": "stop",
           "candidate_count": "n", "seed": "seed", "presence_penalty": "presence_penalty",
           "frequency_penalty": "frequency_penalty"}


def _generation(config: wire.GenerationConfig | None, body: dict[str, Any]) -> None:
    if config is None:
        return
    for ours, theirs in _CONFIG.items():
        value = getattr(config, ours)
        if value is not None:
            body[theirs] = value
    response_format = _response_format(config)
    if response_format is not None:
        body["response_format"] = response_format


def chat_body(request: wire.GenerateContentRequest, model: str, stream: bool) -> dict[str, Any]:
    """The OpenAI chat body a Gemini request asks for."""
    body: dict[str, Any] = {"model": model, "messages": _messages(request)}
    tools = _tools(request)
    if tools:
        body["tools"] = tools
    _tool_choice(request, body)
    _generation(request.generation_config, body)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def count_body(request: wire.CountTokensRequest, model: str) -> dict[str, Any]:
    """The OpenAI chat body whose input tokens ``countTokens`` asks for."""
    inner = request.generate_content_request or wire.GenerateContentRequest(
        contents=request.contents or [])
    return chat_body(inner, model, stream=False)


def _embed_text(request: wire.EmbedContentRequest) -> str:
    return "\n".join(p.text for p in request.content.parts if p.text is not None)


def embed_body(requests: list[wire.EmbedContentRequest], model: str) -> dict[str, Any]:
    """One OpenAI embeddings body for one or many ``embedContent`` requests."""
    for number, request in enumerate(requests):
        if request.model not in (None, f"models/{model}", model):
            raise BadRequestError(f"Invalid value at 'requests[{number}].model': "
                                  f"{request.model!r} is not the model of the URL "
                                  f"('models/{model}').", param=f"requests[{number}].model")
    return {"model": model, "input": [_embed_text(r) for r in requests]}


def embeddings(reply: dict[str, Any], requests: list[wire.EmbedContentRequest]
               ) -> list[dict[str, Any]]:
    """An OpenAI embeddings reply as Gemini ``ContentEmbedding`` objects, in input order.
    ``outputDimensionality`` is Google's: the values past it are cut off the end (not
    OpenAI's ``dimensions``, which some servers ignore and others refuse)."""
    items = sorted(reply.get("data") or [], key=lambda d: d.get("index", 0))
    return [{"values": item["embedding"][:request.output_dimensionality]}
            for item, request in zip(items, requests, strict=True)]


def model_entry(name: str) -> dict[str, Any]:
    return wire.Model(name=f"models/{name}", display_name=name, version="001",
                      supported_generation_methods=["generateContent", "countTokens",
                                                    "embedContent",
                                                    "batchEmbedContents"]).wire()


def describe_error(exc: ValidationError) -> BadRequestError:
    """The first schema error as Google words it: ``Invalid value at 'contents[0].role'``."""
    first = exc.errors()[0]
    param = ""
    for part in first["loc"]:
        if isinstance(part, int):
            param += f"[{part}]"
        elif not ("[" in part or part in ("str", "int", "float", "bool", "dict", "list")):
            param += f".{part}" if param else part
    if first["type"] == "missing":
        return BadRequestError(f"Missing required field '{param}'.", param=param or None)
    return BadRequestError(f"Invalid value at '{param}': {first['msg']}.", param=param or None)
