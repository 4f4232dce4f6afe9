"""Resolve the caller once into a ``Principal``, then enforce the route's ``AccessRule``.

Bearer credentials are tried against each verifier in turn. A verifier returns ``None`` for
"not my kind of token" and raises for "mine, but bad" (expired, revoked, unknown), so the
first verifier that recognises a token decides. Later issues add verifiers (sessions, app
tokens, the extension credential) in ``app.py`` without touching this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.auth import ApiTokenService, Principal
from companion.auth.principal import ANONYMOUS, PrincipalKind
from companion.errors import AuthenticationError
from companion.middleware.access import check, rule_for

PRINCIPAL = web.RequestKey("principal", Principal)

BearerVerifier = Callable[[str], Awaitable[Principal | None]]


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError("Authorization header must be 'Bearer <token>'.",
                                  code="auth_error-invalid_header")
    return value.strip()


def api_token_verifier(tokens: ApiTokenService) -> BearerVerifier:
    async def verify(raw: str) -> Principal | None:
        token = await tokens.verify(raw)
        if token is None:
            return None
        return Principal(PrincipalKind.API_TOKEN, role=token.role, scopes=token.scopes,
                         token_id=token.id)

    return verify


async def _resolve(request: web.Request, verifiers: Sequence[BearerVerifier]) -> Principal:
    raw = _bearer(request)
    if raw is None:
        return ANONYMOUS
    for verify in verifiers:
        principal = await verify(raw)
        if principal is not None:
            return principal
    raise AuthenticationError("Unrecognised token.", code="auth_error-invalid_token")


def auth_middleware(verifiers: Sequence[BearerVerifier]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        rule = rule_for(request)
        principal = await _resolve(request, verifiers) if rule.resolve else ANONYMOUS
        check(rule, principal)
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware
