"""HTTP middleware, one concern per module, installed in one place in a commented order."""

from __future__ import annotations

from aiohttp import web

from companion.auth import ApiTokenService
from companion.metrics import Metrics
from companion.middleware.auth import api_token_verifier, auth_middleware
from companion.middleware.body_limit import body_limit_middleware
from companion.middleware.errors import error_middleware
from companion.middleware.hosts import host_check_middleware
from companion.middleware.metrics import request_metrics_middleware


def setup_middlewares(app: web.Application, *, allowed_hosts: frozenset[str], max_body: int,
                      tokens: ApiTokenService, metrics: Metrics | None = None) -> None:
    app.middlewares.extend([
        # Outside everything: count each request with the status it was finally answered with.
        request_metrics_middleware(metrics or Metrics()),
        # Every failure below, ours or aiohttp's, is rendered in the caller's
        # API family (Bodhi envelope, OpenAI, ...).
        error_middleware(),
        # DNS-rebinding defence before anything else looks at the request.
        host_check_middleware(allowed_hosts),
        # Refuse oversized bodies from their Content-Length before reading them.
        body_limit_middleware(max_body),
        # Resolve the caller once into a Principal, then enforce the route's declared
        # AccessRule (companion/middleware/access.py).
        auth_middleware([api_token_verifier(tokens)]),
    ])
