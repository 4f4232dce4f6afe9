"""Reading a JSON request body and validating it with a pydantic model.

The body must be labelled ``Content-Type: application/json`` (or a ``+json`` type), as the
OpenAI, Anthropic and Gemini services require: a web page can POST ``text/plain`` (or an
unlabelled blob) to a local server without a CORS preflight, so a JSON body that arrives
unlabelled is refused rather than guessed at. Ollama's routes take any label, as Ollama does
(``curl -d`` sends ``application/x-www-form-urlencoded``). The JSON itself is parsed strictly
(``companion.core.json_limits``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from companion.core import json_limits
from companion.core.errors import BadRequestError
from companion.families import ApiFamily, family_for

Describe = Callable[[ValidationError], BadRequestError]


def _describe(exc: ValidationError) -> BadRequestError:
    first = exc.errors()[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    where = f"'{param}': " if param else ""
    return BadRequestError(f"Invalid request: {where}{first['msg']}", code="invalid_value",
                           param=param)


def _check_content_type(request: web.Request) -> None:
    # aiohttp reports a missing Content-Type as application/octet-stream.
    kind = request.content_type
    if kind == "application/json" or kind.endswith("+json"):
        return
    if family_for(request.path) is ApiFamily.OLLAMA:
        return
    given = request.headers.get("Content-Type")
    label = f"Content-Type {given[:80]!r}" if given else "no Content-Type"
    raise BadRequestError(f"The request body must be JSON sent with Content-Type: "
                          f"application/json (got {label}).", code="invalid_content_type")


async def read_json(request: web.Request, schema: type[BaseModel],
                    describe: Describe = _describe) -> dict[str, Any]:
    """The body as a dict, checked against ``schema`` (which may allow extra fields);
    ``describe`` words the first schema error as the caller's API family does."""
    _check_content_type(request)
    raw = await request.read()
    try:
        body = json_limits.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"Request body is not valid JSON: {exc}",
                              code="invalid_json") from exc
    if not isinstance(body, dict):
        raise BadRequestError("Request body must be a JSON object.", code="invalid_json")
    try:
        schema.model_validate(body)
    except ValidationError as exc:
        raise describe(exc) from exc
    return body
