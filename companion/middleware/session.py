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
from companion.core.errors import ForbiddenError
from companion.middleware.access import rule_for
from companion.middleware.auth import PRINCIPAL
from companion.middleware.hosts import own_origin

SessionResolver = Callable[[str], Awaitable[Principal | None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_cross_site(request: web.Request) -> None:
    """403 unless the browser says the request comes from our own origin (or it is not a
    browser: no ``Sec-Fetch-Site`` and no ``Origin``). ``same-site`` is refused too: another
    port on localhost is the same site, and SameSite cookies go along to it."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site not in {None, "same-origin"} or (origin is not None
                                             and origin != own_origin(request)):
        raise ForbiddenError("Cross-site requests cannot change anything with a session "
                             "cookie.", code="auth_error-cross_site_request")


def _cookie_counts(request: web.Request) -> bool:
    if request.method in SAFE_METHODS:
        return request.headers.get("Sec-Fetch-Site") in {None, "same-origin", "none"}
    refuse_cross_site(request)
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
