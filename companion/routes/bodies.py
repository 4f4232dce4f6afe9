"""Reading a JSON request body and validating it with a pydantic model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from companion.core import json_limits
from companion.core.errors import BadRequestError

Describe = Callable[[ValidationError], BadRequestError]


def _describe(exc: ValidationError) -> BadRequestError:
    first = exc.errors()[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    where = f"'{param}': " if param else ""
    return BadRequestError(f"Invalid request: {where}{first['msg']}", code="invalid_value",
                           param=param)


async def read_json(request: web.Request, schema: type[BaseModel],
                    describe: Describe = _describe) -> dict[str, Any]:
    """The body as a dict, checked against ``schema`` (which may allow extra fields);
    ``describe`` words the first schema error as the caller's API family does."""
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
