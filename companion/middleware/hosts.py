"""DNS-rebinding defence: only answer requests addressed to a host name we own."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.core.errors import ForbiddenError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed_hosts(bind_host: str, public_host: str) -> frozenset[str]:
    hosts = set(LOOPBACK_HOSTS)
    for extra in (public_host, bind_host):
        name = _host_name(extra) if extra else ""
        if name and name not in {"0.0.0.0", "::", "[::]"}:
            # A Host header carries an IPv6 address in brackets.
            hosts.add(f"[{name}]" if ":" in name and not name.startswith("[") else name)
    return frozenset(hosts)


def host_check_middleware(allowed: frozenset[str]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _host_name(request.headers.get("Host", "")) not in allowed:
            raise ForbiddenError("Host not allowed. Add it with BODHI_PUBLIC_HOST if you mean "
                                 "to reach this server by that name.", code="host_not_allowed")
        return await handler(request)

    return middleware


def own_origin(request: web.BaseRequest) -> str:
    """This server's origin as the browser sees it (scheme and Host header)."""
    return f"{request.scheme}://{request.host}"
