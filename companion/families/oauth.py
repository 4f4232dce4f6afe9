"""Our OAuth 2 server's endpoints under ``/oauth``: errors as RFC 6749 section 5.2 says."""

from __future__ import annotations

from typing import Any

from companion.core.errors import BodhiError
from companion.families.family import Family

_CODES = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                    "unsupported_grant_type", "invalid_scope"})


def _code(error: BodhiError) -> str:
    if error.code in _CODES:
        return error.code
    return {400: "invalid_request", 401: "invalid_client"}.get(error.status, "server_error")


def error_body(error: BodhiError) -> dict[str, Any]:
    return {"error": _code(error), "error_description": error.message}


FAMILY = Family("oauth", prefixes=("/oauth/",), error_body=error_body)
