"""Keep web pages off a public endpoint that spends something on every call.

Pairing is public and counts every wrong code (ten cancel the owner's open codes). A web page
cannot read the answer, but without this check it could still send the guesses: a ``no-cors``
POST with a ``text/plain`` body needs no CORS preflight. So such an endpoint:

* takes only ``Content-Type: application/json``, which a page can send only after a
  preflight, and the companion answers no preflight on public routes;
* refuses what the browser labels as coming from a web page: an ``Origin`` other than our own
  or a browser extension's, or ``Sec-Fetch-Site: cross-site | same-site`` without an
  extension's ``Origin`` (another port of localhost is the same site).

The extension's popup pairs through its background script (``Origin: chrome-extension://<id>``
or ``moz-extension://<uuid>``), and the owner's own tools (curl, scripts) send no ``Origin``;
both pass, and their wrong codes still count.
"""

from __future__ import annotations

from aiohttp import web

from companion.core.errors import BadRequestError, ForbiddenError
from companion.middleware.hosts import own_origin

EXTENSION_ORIGIN_SCHEMES = ("chrome-extension://", "moz-extension://")
_PAGE_SITES = frozenset({"cross-site", "same-site"})


def _from_extension(origin: str | None) -> bool:
    return origin is not None and origin.startswith(EXTENSION_ORIGIN_SCHEMES)


def _from_web_page(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if _from_extension(origin):
        return False
    if origin is not None and origin != own_origin(request):
        return True
    return request.headers.get("Sec-Fetch-Site") in _PAGE_SITES


def refuse_web_pages(request: web.Request) -> None:
    """403 for a request from a web page, 400 for a body that is not declared JSON."""
    if _from_web_page(request):
        raise ForbiddenError("Web pages cannot call this endpoint.",
                             code="auth_error-cross_site_request")
    if request.content_type != "application/json":
        raise BadRequestError("Send the body as JSON with Content-Type: application/json.",
                              code="invalid_content_type")
