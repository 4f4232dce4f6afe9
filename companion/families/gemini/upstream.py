"""``DIALECT``: Gemini providers (Google's API, or one that speaks it) under OpenAI-shaped calls.

An OpenAI chat body becomes a ``GenerateContentRequest`` on ``/models/{m}:generateContent`` (or
``:streamGenerateContent?alt=sse``): system messages the ``systemInstruction``, assistant turns
``model`` turns, tool calls ``functionCall`` parts and tool results ``functionResponse`` parts
(named after the call they answer), tools ``functionDeclarations`` with their JSON Schema as it
is (``parametersJsonSchema``). Replies, whole or streamed, come back as ``chat.completion`` /
``chat.completion.chunk`` objects. Google's replies are validated with ``wire``; one that does
not fit raises ``MalformedReply``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from pydantic import ValidationError

from companion.core.errors import BadRequestError
from companion.families.gemini import wire
from companion.families.gemini.stream import StreamTranslator, finish_reason, openai_usage
from companion.families.provider import (
    ProviderDialect,
    ProviderRequest,
    parse_reply,
)

_PROVIDER = "The Gemini provider"

def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text") or "") for p in content or [] if isinstance(p, dict))


def _media_part(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        mime, _, data = url[5:].partition(";base64,")
        return {"inlineData": {"mimeType": mime, "data": data}}
    return {"fileData": {"fileUri": url}}


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str) or content is None:
        return [{"text": content or ""}]
    parts = []
    for part in content:
        if part.get("type") == "text":
            parts.append({"text": part.get("text") or ""})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            parts.append(_media_part(image.get("url", "") if isinstance(image, dict)
                                     else str(image)))
        else:
            raise BadRequestError(f"A {part.get('type')!r} content part cannot be sent to a "
                                  "Gemini provider.", param="messages")
    return parts


def _model_parts(message: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if _text(message.get("content")):
        parts.append({"text": _text(message.get("content"))})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        names[str(call.get("id"))] = function.get("name") or ""
        try:
            args = json.loads(function.get("arguments") or "{}")
        except ValueError:
            args = {"_raw": function.get("arguments")}
        parts.append({"functionCall": {"name": function.get("name") or "",
                                       "args": args if isinstance(args, dict) else {}}})
    return parts


def _tool_part(message: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    text = _text(message.get("content"))
    try:
        result = json.loads(text)
    except ValueError:
        result = None
    name = names.get(str(message.get("tool_call_id"))) or message.get("name") or "function"
    return {"functionResponse": {"name": name, "response": result if isinstance(result, dict)
                                 else {"result": text}}}


def contents(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(Gemini contents, system texts); the tool results of one turn share a content."""
    out: list[dict[str, Any]] = []
    system: list[str] = []
    names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "assistant":
            out.append({"role": "model", "parts": _model_parts(message, names) or [{"text": ""}]})
        elif role in ("tool", "function"):
            part = _tool_part(message, names)
            if out and out[-1]["role"] == "user" and "functionResponse" in out[-1]["parts"][-1]:
                out[-1]["parts"].append(part)
            else:
                out.append({"role": "user", "parts": [part]})
        else:
            out.append({"role": "user", "parts": _user_parts(message.get("content"))})
    return out, system


def _tools(body: dict[str, Any]) -> dict[str, Any]:
    declarations = []
    for tool in body.get("tools") or []:
        function = tool.get("function") or {}
        declaration = {k: function[k] for k in ("name", "description") if function.get(k)}
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    if not declarations:
        return {}
    fields: dict[str, Any] = {"tools": [{"functionDeclarations": declarations}]}
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        fields["toolConfig"] = {"functionCallingConfig": {"mode": "ANY",
                                                          "allowedFunctionNames": [name]}}
    elif choice in ("auto", "none", "required"):
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]
        fields["toolConfig"] = {"functionCallingConfig": {"mode": mode}}
    return fields


_CONFIG = {"temperature": "temperature", "top_p": "topP", "top_k": "topK",
           "max_completion_tokens": "maxOutputTokens", "max_tokens": "maxOutputTokens",
           "n": "candidateCount", "seed": "seed", "presence_penalty": "presencePenalty",
           "frequency_penalty": "frequencyPenalty"}


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config = {theirs: body[ours] for ours, theirs in _CONFIG.items()
              if body.get(ours) is not None}
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = body.get("response_format") or {}
    if response_format.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema is not None:
            config["responseJsonSchema"] = schema
    return config


def generate_request(body: dict[str, Any]) -> dict[str, Any]:
    """The ``GenerateContentRequest`` for an OpenAI chat body."""
    turns, system = contents(list(body.get("messages") or []))
    request: dict[str, Any] = {"contents": turns, **_tools(body)}
    if system:
        request["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    config = _generation_config(body)
    if config:
        request["generationConfig"] = config
    return request


def _choice(candidate: wire.Candidate, number: int) -> dict[str, Any]:
    parts = candidate.content.parts if candidate.content else []
    text = "".join(p.text for p in parts if p.text is not None and not p.thought)
    calls = [{"id": p.function_call.id or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
              "function": {"name": p.function_call.name,
                           "arguments": json.dumps(p.function_call.args or {})}}
             for p in parts if p.function_call is not None]
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    thought = "".join(p.text for p in parts if p.text is not None and p.thought)
    if thought:
        message["reasoning_content"] = thought
    if calls:
        message["tool_calls"] = calls
    return {"index": candidate.index if candidate.index is not None else number,
            "message": message, "finish_reason": finish_reason(candidate.finish_reason,
                                                               bool(calls))}


class GeminiDialect:
    """OpenAI-shaped calls on a Gemini provider (a ``ProviderDialect``)."""

    name = "gemini"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    def chat(self, body: dict[str, Any], model: str) -> ProviderRequest:
        if body.get("stream"):
            return ProviderRequest("POST", f"/models/{model}:streamGenerateContent",
                                   generate_request(body), {"alt": "sse"}, stream=True)
        return ProviderRequest("POST", f"/models/{model}:generateContent",
                               generate_request(body))

    def chat_reply(self, raw: bytes, model: str) -> dict[str, Any]:
        reply = parse_reply(wire.GenerateContentResponse, raw, _PROVIDER)
        choices = [_choice(c, i) for i, c in enumerate(reply.candidates or [])]
        if not choices:  # the prompt itself was blocked
            choices = [{"index": 0, "message": {"role": "assistant", "content": None},
                        "finish_reason": "content_filter"}]
        return {"id": reply.response_id or f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion", "created": int(time.time()), "model": model,
                "choices": choices, "usage": openai_usage(reply.usage_metadata)}

    def chat_stream(self, model: str, include_usage: bool) -> StreamTranslator:
        return StreamTranslator(model, include_usage)

    def embeddings(self, body: dict[str, Any], model: str) -> ProviderRequest:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not texts or not all(isinstance(t, str) for t in texts):
            raise BadRequestError("A Gemini provider embeds text only: 'input' must be a "
                                  "string or an array of strings.", param="input")
        extra = {"outputDimensionality": body["dimensions"]} if body.get("dimensions") else {}
        return ProviderRequest("POST", f"/models/{model}:batchEmbedContents", {"requests": [
            {"model": f"models/{model}", "content": {"parts": [{"text": t}]}, **extra}
            for t in texts]})

    def embeddings_reply(self, raw: bytes, model: str) -> dict[str, Any]:
        reply = parse_reply(wire.BatchEmbedContentsResponse, raw, _PROVIDER)
        return {"object": "list", "model": model,
                "data": [{"object": "embedding", "index": i, "embedding": e.values}
                         for i, e in enumerate(reply.embeddings)],
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    def count_tokens(self, body: dict[str, Any], model: str) -> ProviderRequest:
        request = generate_request(body)
        request.pop("generationConfig", None)
        if set(request) == {"contents"}:
            return ProviderRequest("POST", f"/models/{model}:countTokens", request)
        return ProviderRequest("POST", f"/models/{model}:countTokens", {
            "generateContentRequest": {"model": f"models/{model}", **request}})

    def count_tokens_reply(self, raw: bytes) -> int:
        return parse_reply(wire.CountTokensResponse, raw, _PROVIDER).total_tokens

    def list_models(self) -> ProviderRequest:
        return ProviderRequest("GET", "/models", query={"pageSize": "1000"})

    def models_reply(self, raw: bytes) -> list[str]:
        listing = parse_reply(wire.ListModelsResponse, raw, _PROVIDER)
        return [m.name.removeprefix("models/") for m in listing.models]

    def refused_key(self, status: int, raw: bytes) -> bool:
        """Google answers a wrong key with 400 ``INVALID_ARGUMENT``, reason
        ``API_KEY_INVALID`` (and a missing one with 403)."""
        try:
            details = wire.ErrorResponse.model_validate_json(raw).error.details or []
        except ValidationError:
            return False
        return status == 400 and any(d.get("reason") == "API_KEY_INVALID" for d in details)

    def error_message(self, status: int, raw: bytes) -> str:
        try:
            message = wire.ErrorResponse.model_validate_json(raw).error.message
        except ValidationError:
            message = raw.decode("utf-8", errors="replace").strip()[:300]
        return message or f"HTTP {status}"


DIALECT: ProviderDialect = GeminiDialect()
