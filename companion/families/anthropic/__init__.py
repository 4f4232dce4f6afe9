"""Anthropic's Messages API (``/anthropic/v1/...`` and ``/v1/messages``): its declaration here,
its wire format in ``wire.py``, its clients over the OpenAI-shaped pivot in ``client.py``, and
Anthropic's API as a provider of remote models in ``upstream.py`` (``DIALECT``).

Its clients send their key in ``x-api-key`` (or ``Authorization: Bearer``); errors are
``{"type": "error", "error": {"type": ..., "message": ...}}``, also as the ``error`` event of a
stream that fails midway; streams are server-sent events named by an ``event:`` line.
"""

from __future__ import annotations

from typing import Any

from companion.core.errors import BodhiError
from companion.families.anthropic.upstream import DIALECT
from companion.families.family import NAMED_SSE, Family

# Our status -> Anthropic's error type (its API reference, "Errors").
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
          503: "overloaded_error", 529: "overloaded_error"}


def error_body(error: BodhiError) -> dict[str, Any]:
    kind = _TYPES.get(error.status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": error.message}}


FAMILY = Family("anthropic", prefixes=("/anthropic/", "/v1/messages"), error_body=error_body,
                credential_headers=("x-api-key",), stream=NAMED_SSE)

__all__ = ["DIALECT", "FAMILY", "error_body"]
