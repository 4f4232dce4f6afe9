"""Anthropic's API (``/anthropic/...`` and ``/v1/messages``): key header and error shape."""

from __future__ import annotations

from typing import Any

from companion.core.errors import BodhiError
from companion.families.family import Family

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
          503: "overloaded_error"}


def error_body(error: BodhiError) -> dict[str, Any]:
    kind = _TYPES.get(error.status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": error.message}}


FAMILY = Family("anthropic", prefixes=("/anthropic/", "/v1/messages"), error_body=error_body,
                credential_headers=("x-api-key",))
