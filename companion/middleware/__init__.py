"""HTTP middleware, one concern per module, installed in one place in a commented order."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from companion.auth import ApiTokenService
from companion.core.metrics import Metrics
from companion.middleware.app_activity import AppCallRecorder, app_activity_middleware
from companion.middleware.auth import (
    BearerVerifier,
    access_middleware,
    api_token_verifier,
    bearer_middleware,
)
from companion.middleware.body_limit import body_limit_middleware
from companion.middleware.cors import (
    OriginAllowed,
    cors_middleware,
    cors_on_prepare,
    no_origin_allowed,
)
from companion.middleware.credentials import credential_middleware
from companion.middleware.errors import error_middleware
from companion.middleware.hosts import host_check_middleware
from companion.middleware.metrics import remember_sent_status, request_metrics_middleware
from companion.middleware.session import SessionResolver, session_middleware


async def _no_session(session_id: str) -> None:
    return None


def _no_record(call: object) -> None:
    return None


def setup_middlewares(app: web.Application, *, allowed_hosts: frozenset[str], max_body: int,
                      tokens: ApiTokenService, verifiers: Sequence[BearerVerifier] = (),
                      sessions: SessionResolver = _no_session,
                      origin_allowed: OriginAllowed = no_origin_allowed,
                      metrics: Metrics | None = None,
                      app_calls: AppCallRecorder = _no_record) -> None:
    """``verifiers`` are tried after the API-token verifier, in order; ``app_calls`` is
    handed each request made with an app token (``access/activity.py``)."""
    app.middlewares.extend([
        # Outside everything: count each request with the status it was finally answered with.
        request_metrics_middleware(metrics or Metrics()),
        # Requests made with app tokens, with the status they were answered with (rendered
        # errors included) and their duration, into the apps' activity record.
        app_activity_middleware(app_calls),
        # Every failure below, ours or aiohttp's, is rendered in the caller's
        # API family (Bodhi envelope, OpenAI, ...).
        error_middleware(),
        # DNS-rebinding defence before anything else looks at the request.
        host_check_middleware(allowed_hosts),
        # Answer preflights and mark granted origins before any credential is looked at
        # (preflights carry none); the headers go on at prepare time, errors included.
        cors_middleware(origin_allowed),
        # Refuse oversized bodies from their Content-Length before reading them.
        body_limit_middleware(max_body),
        # The auth chain. Header normalisation: x-api-key, x-goog-api-key, ?key= -> bearer.
        credential_middleware(),
        # A bearer credential, tried against each verifier (API tokens first).
        bearer_middleware([api_token_verifier(tokens), *verifiers]),
        # Else the session cookie, with the Sec-Fetch-Site and same-origin (CSRF) checks.
        session_middleware(sessions),
        # Else anonymous; then the route's declared AccessRule (companion/middleware/access).
        access_middleware(),
    ])
    app.on_response_prepare.append(cors_on_prepare)
    app.on_response_prepare.append(remember_sent_status)
