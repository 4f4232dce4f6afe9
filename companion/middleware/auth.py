"""Resolve the caller once into a ``Principal``, then enforce the route's ``AccessRule``.

Three middlewares, in this order (see ``setup_middlewares``):

* ``bearer_middleware``: the credential found by header normalisation is tried against each
  verifier in turn. A verifier returns ``None`` for "not my kind of token" and raises for
  "mine, but bad" (expired, revoked, unknown), so the first verifier that recognises a token
  decides. Later issues add verifiers (app tokens, the extension credential) in ``app.py``.
* ``session_middleware`` (companion/middleware/session.py): the session cookie, when no
  bearer credential was sent.
* ``access_middleware``: nobody resolved means anonymous; then the route's declared rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.auth import ApiTokenService, Principal
from companion.auth.principal import ANONYMOUS
from companion.core.errors import AuthenticationError
from companion.families import family_for
from companion.middleware.access import check, rule_for
from companion.middleware.credentials import CREDENTIAL

PRINCIPAL = web.RequestKey("principal", Principal)

BearerVerifier = Callable[[str], Awaitable[Principal | None]]


def api_token_verifier(tokens: ApiTokenService) -> BearerVerifier:
    async def verify(raw: str) -> Principal | None:
        token = await tokens.verify(raw)
        return None if token is None else token.principal

    return verify


async def _verify(raw: str, verifiers: Sequence[BearerVerifier]) -> Principal:
    for verify in verifiers:
        principal = await verify(raw)
        if principal is not None:
            return principal
    raise AuthenticationError("Unrecognised token.", code="auth_error-invalid_token")


def bearer_middleware(verifiers: Sequence[BearerVerifier]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = request.get(CREDENTIAL)
        if raw is not None:
            request[PRINCIPAL] = await _verify(raw, verifiers)
        return await handler(request)

    return middleware


def access_middleware() -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        rule = rule_for(request)
        principal = request.get(PRINCIPAL, ANONYMOUS) if rule.resolve else ANONYMOUS
        check(rule, principal, family_for(request.path).value.credential_places())
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware
