"""DNS-rebinding defence: only answer requests addressed to a host name we own.

A page on ``evil.example`` whose DNS later points at 127.0.0.1 reaches this server with
``Host: evil.example``; refusing every Host we do not own defeats that. The header is parsed
strictly (RFC 9110: ``host [":" port]``), because a lenient reading lets names through that
other parsers (a proxy, the browser, a resolver) read differently: ``localhost:1135@evil``
(userinfo), ``localhost.`` (a DNS name, not the hosts file's), ``::1`` without brackets, zone
ids, ports that are empty, signed, spaced or out of range, percent-encoding, a request with
no Host header or with two, and one whose absolute-form target names another host. Only
loopback names and addresses, and the configured public and bind hosts, pass; case does not
matter.
"""

from __future__ import annotations

import ipaddress
import re

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.core.errors import ForbiddenError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


def host_name(header: str) -> str | None:
    """The host a ``Host`` header names (lower case, IPv6 in brackets and compressed), or
    ``None`` when the header is not a plain ``host[:port]``."""
    text = header.lower()
    if text.startswith("["):
        end = text.find("]")
        name, port = _ipv6(text[1:end]) if end > 0 else None, text[end + 1:]
    else:
        name, _, rest = text.partition(":")
        port = text[len(name):]
        name = name if _NAME.fullmatch(name) and rest.count(":") == 0 else None
    if name is None or not _valid_port(port):
        return None
    return name


def _ipv6(text: str) -> str | None:
    if "%" in text:            # a zone id names an interface of the client's, not a host
        return None
    try:
        return f"[{ipaddress.IPv6Address(text).compressed}]"
    except ValueError:
        return None


def _valid_port(port: str) -> bool:
    if not port:
        return True
    digits = port.removeprefix(":")
    return port.startswith(":") and bool(_PORT.fullmatch(digits)) and int(digits) <= 65535


def _is_loopback_address(name: str) -> bool:
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def host_allowed(headers: list[str], allowed: frozenset[str]) -> bool:
    """Whether a request's Host headers (exactly one is needed) name a host we own."""
    if len(headers) != 1:
        return False
    name = host_name(headers[0])
    return name is not None and (name in allowed or _is_loopback_address(name))


def _configured_name(value: str) -> str:
    """A host from a setting (``BODHI_HOST``, ``BODHI_PUBLIC_HOST``): maybe with a port,
    IPv6 maybe without brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        value = value[1:value.find("]")]
    elif value.count(":") == 1:
        value = value.rsplit(":", 1)[0]
    return _ipv6(value) or value if ":" in value else value


def allowed_hosts(bind_host: str, public_host: str) -> frozenset[str]:
    hosts = set(LOOPBACK_HOSTS)
    for extra in (public_host, bind_host):
        name = _configured_name(extra) if extra else ""
        if name and name not in {"0.0.0.0", "[::]"}:
            hosts.add(name)
    return frozenset(hosts)


def host_check_middleware(allowed: frozenset[str]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        hosts = request.headers.getall("Host", [])
        # An absolute-form target (``GET http://evil.example/ ...``) is what aiohttp takes
        # as the host (and so as our own origin): it must agree with the Host header.
        if not host_allowed(hosts, allowed) or request.host != hosts[0]:
            raise ForbiddenError("Host not allowed. Add it with BODHI_PUBLIC_HOST if you mean "
                                 "to reach this server by that name.", code="host_not_allowed")
        return await handler(request)

    return middleware


def own_origin(request: web.BaseRequest) -> str:
    """This server's origin as the browser sees it (scheme and Host header)."""
    return f"{request.scheme}://{request.host}"
