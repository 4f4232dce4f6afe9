"""Resolve the caller once into a ``Principal``; refuse anonymous callers on private routes."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.auth import ApiTokenService, Principal
from companion.auth.principal import ANONYMOUS, PrincipalKind
from companion.errors import AuthenticationError

PRINCIPAL = web.RequestKey("principal", Principal)

PUBLIC_PATHS = frozenset({"/ping", "/health", "/bodhi/v1/info"})


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError("Authorization header must be 'Bearer <token>'.",
                                  code="auth_error-invalid_header")
    return value.strip()


async def _resolve(request: web.Request, tokens: ApiTokenService) -> Principal:
    raw = _bearer(request)
    if raw is None:
        return ANONYMOUS
    token = await tokens.verify(raw)
    if token is None:
        raise AuthenticationError("Unrecognised token.", code="auth_error-invalid_token")
    return Principal(PrincipalKind.API_TOKEN, token.scopes, token.id)


def auth_middleware(tokens: ApiTokenService) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            request[PRINCIPAL] = ANONYMOUS
            return await handler(request)
        principal = await _resolve(request, tokens)
        if not principal.is_authenticated:
            raise AuthenticationError("Authentication required: send an API token as "
                                      "'Authorization: Bearer <token>'.",
                                      code="auth_error-missing_token")
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware
