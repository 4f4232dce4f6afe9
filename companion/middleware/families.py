"""API families and how each renders an error (see API.md, "Errors")."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from companion.core.errors import BodhiError


class ApiFamily(StrEnum):
    BODHI = "bodhi"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    OLLAMA = "ollama"
    OAUTH = "oauth"


def family_for(path: str) -> ApiFamily:
    if path.startswith("/anthropic/") or path.startswith("/v1/messages"):
        return ApiFamily.ANTHROPIC
    if path.startswith("/v1beta/"):
        return ApiFamily.GEMINI
    if path.startswith("/v1/"):
        return ApiFamily.OPENAI
    if path.startswith("/api/"):
        return ApiFamily.OLLAMA
    if path.startswith("/oauth/"):
        return ApiFamily.OAUTH
    return ApiFamily.BODHI


_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                    403: "permission_error", 404: "not_found_error",
                    413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error"}
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                  404: "NOT_FOUND", 409: "ALREADY_EXISTS", 413: "INVALID_ARGUMENT",
                  429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}


_OAUTH_CODES = frozenset({"invalid_request", "invalid_client", "invalid_grant",
                          "unauthorized_client", "unsupported_grant_type", "invalid_scope"})


def _oauth_code(error: BodhiError) -> str:
    """RFC 6749 section 5.2 error codes."""
    if error.code in _OAUTH_CODES:
        return error.code
    return {400: "invalid_request", 401: "invalid_client"}.get(error.status, "server_error")


def error_body(family: ApiFamily, error: BodhiError) -> dict[str, Any]:
    if family is ApiFamily.OPENAI:
        return {"error": {"message": error.message, "type": error.type,
                          "param": error.param, "code": error.code}}
    if family is ApiFamily.ANTHROPIC:
        kind = _ANTHROPIC_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}
    if family is ApiFamily.GEMINI:
        return {"error": {"code": error.status, "message": error.message,
                          "status": _GOOGLE_STATUS.get(error.status, "INTERNAL")}}
    if family is ApiFamily.OLLAMA:
        return {"error": error.message}
    if family is ApiFamily.OAUTH:
        return {"error": _oauth_code(error), "error_description": error.message}
    body: dict[str, Any] = {"message": error.message, "type": error.type, "code": error.code}
    if error.param is not None:
        body["param"] = error.param
    return {"error": body}
