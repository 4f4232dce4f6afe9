"""CORS for API routes: only origins that hold an app grant, and never with credentials.

``origin_allowed(origin)`` decides (the app-grant service supplies it; until then nothing is
allowed). Session-only, extension-only and public routes never answer CORS, and
``Access-Control-Allow-Credentials`` is never sent, so a page can use a bearer token it was
granted but never the user's cookie. The browser extension's own requests come from its
background with host permissions and need no CORS. Headers are added when a response is
prepared, so streamed replies and rendered errors carry them too (a granted page must be able
to read its 401).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.auth.principal import PrincipalKind
from companion.middleware.access import AccessRule, rule_for, rule_for_match, session_only
from companion.middleware.hosts import own_origin

OriginAllowed = Callable[[str], Awaitable[bool]]

CORS_ORIGIN = web.RequestKey("cors_origin", str)
PREFLIGHT_MAX_AGE = "600"
DEFAULT_ALLOWED_HEADERS = "Authorization, Content-Type"

log = logging.getLogger(__name__)


async def no_origin_allowed(origin: str) -> bool:
    return False


def _answers_cors(rule: AccessRule) -> bool:
    """Only routes an app token may call: a granted page holds nothing else that works.

    Public routes never answer: they take no token, and some hand out secrets for a secret
    (pairing, owner login, OAuth codes) that a page must never be able to read.
    """
    if session_only(rule) or not rule.resolve:
        return False
    return rule.kinds is None or PrincipalKind.APP_TOKEN in rule.kinds


async def _allowed(origin_allowed: OriginAllowed, origin: str) -> bool:
    try:
        return await origin_allowed(origin)
    except Exception:
        log.exception("could not decide CORS for an origin")
        return False


async def _preflight(request: web.Request, origin: str, origin_allowed: OriginAllowed
                     ) -> web.Response:
    method = request.headers["Access-Control-Request-Method"]
    match = await request.app.router.resolve(request.clone(method=method))
    response = web.Response(status=204, headers={"Vary": "Origin"})
    if _answers_cors(rule_for_match(match)) and match.http_exception is None \
            and await _allowed(origin_allowed, origin):
        response.headers.update({
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": method,
            "Access-Control-Allow-Headers": request.headers.get(
                "Access-Control-Request-Headers", DEFAULT_ALLOWED_HEADERS),
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE})
    return response


def _set_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    origin = request.get(CORS_ORIGIN)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


async def cors_on_prepare(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: streamed and error responses get the headers too.

    aiohttp already counts the response as prepared while this hook runs, but the headers
    have not been sent yet, so they are set without looking at ``prepared``.
    """
    _set_headers(request, response)


def cors_middleware(origin_allowed: OriginAllowed) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or origin == own_origin(request):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return await _preflight(request, origin, origin_allowed)
        if _answers_cors(rule_for(request)) and await _allowed(origin_allowed, origin):
            request[CORS_ORIGIN] = origin
        response = await handler(request)
        if not response.prepared:
            _set_headers(request, response)
        return response

    return middleware
