"""OAuth for MCP instances: start a login (the user's session), and the callback the
server's authorization server sends the browser back to.

The callback arrives as a cross-site navigation, which does not carry the session cookie
(SameSite=Strict); what binds it to the browser that started the login is the state in a Lax
cookie set at the start, which must match the state the authorization server returns.
"""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from companion.auth.principal import Role
from companion.core.errors import BadRequestError, BodhiError
from companion.middleware.access import public, requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.docs import QueryParam, documented
from companion.routes.html_pages import esc, page
from companion.routes.keys import MCPS, SERVER_INFO
from companion.routes.mcps import changed

CALLBACK_PATH = "/bodhi/v1/mcps/oauth/callback"
STATE_COOKIE = "bodhiapp_mcp_oauth_state"


_CALLBACK_QUERY = (
    QueryParam("code", "The authorization code."),
    QueryParam("state", "The flow state."),
)


def redirect_uri(request: web.Request) -> str:
    return request.app[SERVER_INFO].url.rstrip("/") + CALLBACK_PATH


async def _start(request: web.Request, response: web.Response) -> web.Response:
    user_id = request[PRINCIPAL].user_id
    assert user_id is not None
    pending = await request.app[MCPS].oauth.start(user_id, request.match_info["id"],
                                                  redirect_uri(request))
    if response.status == 302:
        response.headers["Location"] = pending.authorize_url
    else:
        response.text = json.dumps({"authorize_url": pending.authorize_url})
    # Lax: the authorization server sends the browser back with a cross-site navigation.
    response.set_cookie(STATE_COOKIE, pending.state, httponly=True, samesite="Lax",
                        secure=request.secure, path=CALLBACK_PATH, max_age=600)
    return response


@requires(Role.USER, session_only=True)
@documented("MCP OAuth: start signing an instance in (JSON: where to go)", errors=(400, 502))
async def login(request: web.Request) -> web.Response:
    """``{"authorize_url"}`` for a page that sends the browser there itself."""
    return await _start(request, web.Response(content_type="application/json"))


@requires(Role.USER, session_only=True)
@documented("MCP OAuth: start signing an instance in (redirect)", media=None, status=302,
            errors=(400, 502))
async def login_redirect(request: web.Request) -> web.Response:
    """The same as a navigation (``bodhi mcp login`` opens it after the owner's sign-in).
    A cross-site navigation carries no session cookie (SameSite=Strict), so no other site
    can start a login this way."""
    return await _start(request, web.Response(status=302))


@public
@documented("MCP OAuth: the provider redirects back here", media="text/html",
            response={"type": "string"},
            query=_CALLBACK_QUERY, errors=(400, 404, 502), error_pages=(400, 404, 502))
async def callback(request: web.Request) -> web.Response:
    state = request.query.get("state", "")
    expected = request.cookies.get(STATE_COOKIE, "")
    try:
        if not expected or not hmac.compare_digest(expected.encode(), state.encode()):
            raise BadRequestError("This MCP login was not started in this browser, or it "
                                  "expired; start it again.", code="mcp_oauth_state_mismatch")
        instance = await request.app[MCPS].oauth.finish(dict(request.query), expected)
    except BodhiError as exc:
        response = page("MCP login failed", f"<h1>MCP login failed</h1><p>{esc(exc.message)}"
                        "</p>", status=exc.status)
    else:
        # The web UI's MCP page that opened this window hears it and shows the instance
        # connected; the link serves a login that left the page (no popup allowed).
        changed(request, "instance", instance.id, "connected", instance.user_id)
        response = page("Connected", f"<h1>Connected to {esc(instance.server.name)}</h1>"
                        f"<p>The MCP instance <code>{esc(instance.slug)}</code> is ready. You "
                        "can close this window, or go <a href=\"/ui/mcp/instances/"
                        f"{esc(instance.id)}\">back to the instance</a>.</p>")
    response.del_cookie(STATE_COOKIE, path=CALLBACK_PATH)
    return response


def setup(app: web.Application) -> None:
    app.router.add_get(CALLBACK_PATH, callback)
    app.router.add_post("/bodhi/v1/mcps/{id}/oauth/login", login)
    app.router.add_get("/bodhi/v1/mcps/{id}/oauth/login", login_redirect)
