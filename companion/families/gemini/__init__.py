"""Google's Gemini API under ``/v1beta``: its declaration (key header or ``?key=``, Google's
error shape, SSE framed with CRLFs), and its translations to and from the OpenAI-shaped pivot.

``wire``: pydantic models of the JSON. ``client``/``replies``: Gemini clients over our models
(requests to OpenAI bodies, OpenAI replies to Gemini's). ``upstream``: ``DIALECT``, Gemini
providers under OpenAI-shaped calls (the other way round).
"""

from __future__ import annotations

from typing import Any

from companion.core.errors import BodhiError
from companion.families.family import Family
from companion.families.gemini.client import SSE
from companion.families.gemini.upstream import DIALECT

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
           404: "NOT_FOUND", 409: "ALREADY_EXISTS", 413: "INVALID_ARGUMENT",
           429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE",
           504: "DEADLINE_EXCEEDED"}


def error_body(error: BodhiError) -> dict[str, Any]:
    return {"error": {"code": error.status, "message": error.message,
                      "status": _STATUS.get(error.status, "INTERNAL")}}


FAMILY = Family("gemini", prefixes=("/v1beta/",), error_body=error_body,
                credential_headers=("x-goog-api-key",), credential_query="key", stream=SSE)

__all__ = ["DIALECT", "FAMILY", "error_body"]
