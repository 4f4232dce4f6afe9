"""A validating stand-in for Google's Gemini API (v1beta), for tests of Gemini providers.

Every request is checked against strict models of the public REST reference, written here
independently of the companion's own: unknown fields are refused (as Google's parser refuses
them: ``Invalid JSON payload received. Unknown name ...``), roles must be ``user`` or ``model``,
a part holds exactly one kind of data, function responses must answer the function calls of the
turn just before, and the key must be right. Errors take Google's envelope and statuses: no key
is 403 ``PERMISSION_DENIED``, a wrong key 400 ``INVALID_ARGUMENT`` (reason
``API_KEY_INVALID``), an unknown model 404 ``NOT_FOUND``.

Replies are scripted by the last user turn: tools offered and a text asking → a
``functionCall`` of the first declared function; a ``functionResponse`` → a text naming it;
"FAIL" → 500; in a stream "CUT" ends it without a finish, "STREAM_ERROR" sends an error event;
otherwise "Hello from Gemini." (streamed in two pieces). It runs on its own loop in a thread,
so blocking clients and the companion's subprocess can reach it; ``requests`` keeps what came.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, Self, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tests.loopback_app import LoopbackApp

MODELS = ("gemini-test", "text-embedding-004")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InlineData(_Strict):
    mimeType: str
    data: str


class FileData(_Strict):
    mimeType: str | None = None
    fileUri: str


class FunctionCall(_Strict):
    id: str | None = None
    name: str = Field(min_length=1)
    args: dict[str, Any] | None = None


class FunctionResponse(_Strict):
    id: str | None = None
    name: str = Field(min_length=1)
    response: dict[str, Any]


class Part(_Strict):
    text: str | None = None
    inlineData: InlineData | None = None
    fileData: FileData | None = None
    functionCall: FunctionCall | None = None
    functionResponse: FunctionResponse | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if sum(v is not None for v in self.__dict__.values()) != 1:
            raise ValueError("a part must hold exactly one data field")
        return self


class Content(_Strict):
    role: Literal["user", "model"] | None = None
    parts: list[Part] = Field(min_length=1)


class Declaration(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    parametersJsonSchema: dict[str, Any] | None = None


class Tool(_Strict):
    functionDeclarations: list[Declaration] = Field(min_length=1)


class CallingConfig(_Strict):
    mode: Literal["AUTO", "ANY", "NONE", "VALIDATED"]
    allowedFunctionNames: list[str] | None = None


class ToolConfig(_Strict):
    functionCallingConfig: CallingConfig


class GenerationConfig(_Strict):
    temperature: float | None = Field(default=None, ge=0, le=2)
    topP: float | None = None
    topK: int | None = None
    maxOutputTokens: int | None = Field(default=None, ge=1)
    stopSequences: list[str] | None = Field(default=None, max_length=5)
    candidateCount: int | None = None
    responseMimeType: Literal["text/plain", "application/json", "text/x.enum"] | None = None
    responseJsonSchema: dict[str, Any] | None = None
    seed: int | None = None
    presencePenalty: float | None = None
    frequencyPenalty: float | None = None


class SystemInstruction(_Strict):
    role: str | None = None
    parts: list[Part] = Field(min_length=1)


class GenerateContentRequest(_Strict):
    model: str | None = None
    contents: list[Content] = Field(min_length=1)
    systemInstruction: SystemInstruction | None = None
    tools: list[Tool] | None = None
    toolConfig: ToolConfig | None = None
    generationConfig: GenerationConfig | None = None


class CountTokensRequest(_Strict):
    contents: list[Content] | None = None
    generateContentRequest: GenerateContentRequest | None = None


class EmbedContentRequest(_Strict):
    model: str
    content: Content
    taskType: str | None = None
    outputDimensionality: int | None = None


class BatchEmbedContentsRequest(_Strict):
    requests: list[EmbedContentRequest] = Field(min_length=1)


_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           500: "INTERNAL"}


def _error(code: int, message: str, reason: str | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message, "status": _STATUS[code]}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": reason, "domain": "googleapis.com"}]
    return web.json_response({"error": error}, status=code)


class Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _turns_follow(contents: list[Content]) -> None:
    """Function responses answer exactly the calls of the model turn just before them."""
    for number, content in enumerate(contents):
        answers = [p.functionResponse.name for p in content.parts if p.functionResponse]
        if not answers:
            continue
        before = contents[number - 1] if number else None
        calls = [p.functionCall.name for p in before.parts if p.functionCall] if before else []
        if content.role == "model" or sorted(calls) != sorted(answers):
            raise Refused(_error(400, "Please ensure that function response turn comes "
                                      "immediately after a function call turn, and that the "
                                      "number of function response parts is equal to the "
                                      "number of function call parts of the function call "
                                      "turn."))


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], raw: bytes) -> M:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            message = (f"Invalid JSON payload received. Unknown name \"{first['loc'][-1]}\" "
                       f"at '{where}': Cannot find field.")
        elif first["type"] == "literal_error" and "role" in where:
            message = "Please use a valid role: user, model."
        else:
            message = f"Invalid value at '{where}': {first['msg']}"
        raise Refused(_error(400, message)) from exc


def _last_user(request: GenerateContentRequest) -> Part:
    return request.contents[-1].parts[-1]


def _answer(request: GenerateContentRequest) -> list[dict[str, Any]]:
    """The parts of the scripted answer."""
    last = _last_user(request)
    if last.functionResponse is not None:
        return [{"text": f"The {last.functionResponse.name} result is "
                         f"{json.dumps(last.functionResponse.response)}."}]
    mode = request.toolConfig.functionCallingConfig.mode if request.toolConfig else "AUTO"
    if request.tools and mode != "NONE":
        declaration = request.tools[0].functionDeclarations[0]
        return [{"functionCall": {"name": declaration.name, "args": {"city": "Paris"}}}]
    return [{"text": "Hello"}, {"text": " from Gemini."}]


def _usage(request: GenerateContentRequest, parts: list[dict[str, Any]]) -> dict[str, int]:
    prompt = sum(len((p.text or "").split()) + 1 for c in request.contents for p in c.parts)
    output = len(parts) * 3
    return {"promptTokenCount": prompt, "candidatesTokenCount": output,
            "totalTokenCount": prompt + output}


def _response(parts: list[dict[str, Any]], finish: str | None = None,
              usage: dict[str, int] | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-test-001",
                                "responseId": "resp-1"}
    if usage:
        response["usageMetadata"] = usage
    return response


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:8]]


class FakeGemini(LoopbackApp):
    url_path = "/v1beta"

    def __init__(self, key: str = "goog-test-key") -> None:
        super().__init__()
        self.key = key
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []  # method, path, body

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/v1beta/models", self._list)
        app.router.add_post("/v1beta/models/{model}:generateContent", self._generate)
        app.router.add_post("/v1beta/models/{model}:streamGenerateContent", self._stream)
        app.router.add_post("/v1beta/models/{model}:countTokens", self._count)
        app.router.add_post("/v1beta/models/{model}:batchEmbedContents", self._batch_embed)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append((request.method, request.path_qs,
                              json.loads(raw) if raw else None))
        key = request.headers.get("x-goog-api-key")
        if key is None:
            return _error(403, "Method doesn't allow unregistered callers (callers without "
                               "established identity). Please use API Key or other form of "
                               "API consumer identity to call this API.")
        if key != self.key:
            return _error(400, "API key not valid. Please pass a valid API key.",
                          "API_KEY_INVALID")
        model = request.match_info.get("model")
        if model is not None and model not in MODELS:
            return _error(404, f"models/{model} is not found for API version v1beta.")
        try:
            response: web.StreamResponse = await handler(request)
        except Refused as refused:
            return refused.response
        return response

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [
            {"name": f"models/{m}", "displayName": m, "inputTokenLimit": 1000,
             "outputTokenLimit": 100, "supportedGenerationMethods": ["generateContent"]}
            for m in MODELS]})

    async def _generate(self, request: web.Request) -> web.Response:
        body = _validated(GenerateContentRequest, await request.read())
        _turns_follow(body.contents)
        if (_last_user(body).text or "") == "FAIL":
            return _error(500, "An internal error has occurred.")
        parts = _answer(body)
        return web.json_response(_response(parts, "STOP", _usage(body, parts)))

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("alt") != "sse":
            raise Refused(_error(400, "This fake streams SSE only (alt=sse)."))
        body = _validated(GenerateContentRequest, await request.read())
        _turns_follow(body.contents)
        reply = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await reply.prepare(request)
        parts, last = _answer(body), _last_user(body).text or ""
        for number, part in enumerate(parts):
            final = number == len(parts) - 1
            if final and last == "CUT":
                break  # the connection ends before Google says why it finished
            if final and last == "STREAM_ERROR":
                event = {"error": {"code": 503, "message": "The model is overloaded.",
                                   "status": "UNAVAILABLE"}}
            else:
                event = _response([part], "STOP" if final else None,
                                  _usage(body, parts) if final else None)
            await reply.write(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
        await reply.write_eof()
        return reply

    async def _count(self, request: web.Request) -> web.Response:
        body = _validated(CountTokensRequest, await request.read())
        inner = body.generateContentRequest
        contents = body.contents if inner is None else inner.contents
        if (body.contents is None) == (inner is None) or not contents:
            raise Refused(_error(400, "Either contents or generateContentRequest is needed."))
        words = sum(len((p.text or "").split()) for c in contents for p in c.parts)
        if inner is not None and inner.systemInstruction is not None:
            words += sum(len((p.text or "").split()) for p in inner.systemInstruction.parts)
        return web.json_response({"totalTokens": words})

    async def _batch_embed(self, request: web.Request) -> web.Response:
        body = _validated(BatchEmbedContentsRequest, await request.read())
        model = request.match_info["model"]
        for item in body.requests:
            if item.model != f"models/{model}":
                raise Refused(_error(400, f"Model {item.model} does not match models/{model}."))
        return web.json_response({"embeddings": [
            {"values": _vector("".join(p.text or "" for p in r.content.parts))}
            for r in body.requests]})
