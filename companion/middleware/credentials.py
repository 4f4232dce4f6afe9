"""Header normalisation: find the caller's bearer credential wherever its API family puts it.

``Authorization: Bearer <token>`` everywhere; else the headers and query parameter the
route's family declares (``companion/families``: Anthropic's ``x-api-key``, Gemini's
``x-goog-api-key`` or ``?key=``). Whatever was found is stored under ``CREDENTIAL`` for the
verifiers.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.core.errors import AuthenticationError
from companion.families import family_for
from companion.middleware.access import rule_for

CREDENTIAL = web.RequestKey("credential", str)


def _authorization(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError("Authorization header must be 'Bearer <token>'.",
                                  code="auth_error-invalid_header")
    return value.strip()


def _family_credential(request: web.Request) -> str | None:
    family = family_for(request.path).value
    for header in family.credential_headers:
        value = request.headers.get(header, "").strip()
        if value:
            return value
    if family.credential_query is not None:
        return request.query.get(family.credential_query, "").strip() or None
    return None


def credential_middleware() -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if rule_for(request).resolve:
            raw = _authorization(request) or _family_credential(request)
            if raw is not None:
                request[CREDENTIAL] = raw
        return await handler(request)

    return middleware
