"""CORS for browser origins that hold an app grant, and for nobody else.

A page whose origin holds a live grant may call the companion directly with its app token
(``window.bodhi.getToken()``), so API routes an app token can call answer CORS for it. Never
with credentials (``Access-Control-Allow-Credentials`` is never sent: cookies never cross
origins), never on routes an app token cannot call (session-only and extension-only routes).
Preflights are answered here, before authentication, since they carry no credentials.
The headers of actual responses are added in ``on_response_prepare`` so that streamed and
error responses carry them too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.auth.principal import PrincipalKind
from companion.errors import ForbiddenError
from companion.middleware.access import AccessRule, rule_for, rule_for_match

OriginAllowed = Callable[[str], Awaitable[bool]]

_ALLOWED_ORIGIN = web.RequestKey("cors_origin", str)
_API_PREFIXES = ("/v1/", "/bodhi/v1/", "/anthropic/", "/v1beta/", "/api/")
_ALLOW_HEADERS = "Authorization, Content-Type, X-Api-Key, X-Goog-Api-Key"
_EXPOSE_HEADERS = "Content-Type, Retry-After"
MAX_AGE_SECS = 600


async def no_origin_allowed(origin: str) -> bool:
    return False


def _app_callable(rule: AccessRule) -> bool:
    if not rule.resolve:
        return True  # public
    return rule.kinds is None or PrincipalKind.APP_TOKEN in rule.kinds


async def _preflight(request: web.Request, origin: str, allowed: OriginAllowed
                     ) -> web.Response:
    method = request.headers["Access-Control-Request-Method"].upper()
    match = await request.app.router.resolve(request.clone(method=method))
    if match.http_exception is not None or not _app_callable(rule_for_match(match)) \
            or not await allowed(origin):
        raise ForbiddenError("This origin holds no grant for this route; ask for access "
                             "through the Bodhi extension first.", code="cors_origin_refused")
    return web.Response(status=204, headers={
        "Access-Control-Allow-Origin": origin, "Vary": "Origin",
        "Access-Control-Allow-Methods": method,
        "Access-Control-Allow-Headers": _ALLOW_HEADERS,
        "Access-Control-Max-Age": str(MAX_AGE_SECS)})


def grant_cors_middleware(allowed: OriginAllowed) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or not request.path.startswith(_API_PREFIXES):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return await _preflight(request, origin, allowed)
        if _app_callable(rule_for(request)) and await allowed(origin):
            request[_ALLOWED_ORIGIN] = origin
        return await handler(request)

    return middleware


async def add_cors_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    origin = request.get(_ALLOWED_ORIGIN)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
        response.headers.add("Vary", "Origin")


def setup_grant_cors(app: web.Application, allowed: OriginAllowed) -> Middleware:
    app.on_response_prepare.append(add_cors_headers)
    return grant_cors_middleware(allowed)
