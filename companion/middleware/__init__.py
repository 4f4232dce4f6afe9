"""HTTP middleware, one concern per module, installed in one place in a commented order."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from companion.auth import ApiTokenService
from companion.middleware.auth import BearerVerifier, api_token_verifier, auth_middleware
from companion.middleware.body_limit import body_limit_middleware
from companion.middleware.errors import error_middleware
from companion.middleware.grant_cors import OriginAllowed, no_origin_allowed, setup_grant_cors
from companion.middleware.hosts import host_check_middleware


def setup_middlewares(app: web.Application, *, allowed_hosts: frozenset[str], max_body: int,
                      tokens: ApiTokenService, verifiers: Sequence[BearerVerifier] = (),
                      origin_allowed: OriginAllowed = no_origin_allowed) -> None:
    app.middlewares.extend([
        # Outermost: every failure below, ours or aiohttp's, is rendered in the caller's
        # API family (Bodhi envelope, OpenAI, ...).
        error_middleware(),
        # DNS-rebinding defence before anything else looks at the request.
        host_check_middleware(allowed_hosts),
        # CORS for origins holding an app grant; preflights are answered before auth.
        setup_grant_cors(app, origin_allowed),
        # Refuse oversized bodies from their Content-Length before reading them.
        body_limit_middleware(max_body),
        # Resolve the caller once into a Principal, then enforce the route's declared
        # AccessRule (companion/middleware/access.py).
        auth_middleware([api_token_verifier(tokens), *verifiers]),
    ])
