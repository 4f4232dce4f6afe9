"""The session cookie step of the auth chain, with the browser-side checks around it.

A cookie counts only when the browser says the request is not from another site
(``Sec-Fetch-Site`` same-origin or none, or no such header from a non-browser client). A
state-changing request that carries the cookie must come from our own origin: anything
else is refused outright (CSRF defence), rather than quietly treated as anonymous.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.auth.principal import Principal
from companion.auth.sessions import SESSION_COOKIE
from companion.errors import ForbiddenError
from companion.middleware.access import rule_for
from companion.middleware.auth import PRINCIPAL
from companion.middleware.hosts import own_origin

SessionResolver = Callable[[str], Awaitable[Principal | None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _cookie_counts(request: web.Request) -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if request.method in SAFE_METHODS:
        return site in {None, "same-origin", "none"}
    origin = request.headers.get("Origin")
    if site not in {None, "same-origin"} or (origin is not None
                                             and origin != own_origin(request)):
        raise ForbiddenError("Cross-site requests cannot change anything with a session "
                             "cookie.", code="auth_error-cross_site_request")
    return True


def session_middleware(resolve: SessionResolver) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        session_id = request.cookies.get(SESSION_COOKIE)
        if (session_id and PRINCIPAL not in request and rule_for(request).resolve
                and _cookie_counts(request)):
            principal = await resolve(session_id)
            if principal is not None:
                request[PRINCIPAL] = principal
        return await handler(request)

    return middleware
