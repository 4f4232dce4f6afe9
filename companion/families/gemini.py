"""Google's Gemini API under ``/v1beta``: key header or ``?key=``, and Google's error shape."""

from __future__ import annotations

from typing import Any

from companion.core.errors import BodhiError
from companion.families.family import Family

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 409: "ALREADY_EXISTS", 413: "INVALID_ARGUMENT",
           429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}


def error_body(error: BodhiError) -> dict[str, Any]:
    return {"error": {"code": error.status, "message": error.message,
                      "status": _STATUS.get(error.status, "INTERNAL")}}


FAMILY = Family("gemini", prefixes=("/v1beta/",), error_body=error_body,
                credential_headers=("x-goog-api-key",), credential_query="key")
