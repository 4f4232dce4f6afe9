"""Identity routes: the sign-in mode (owner only), sign-in (owner ticket or OIDC), sign-out,
who am I, asking for access. Browser flows end on a small page that moves on to the landing
page from our own origin, so the SameSite=Strict session cookie is sent on the very next load.
The landing page is the web UI when one is mounted, else a small signed-in page that says who
is signed in and what to do next."""

from __future__ import annotations

import hmac
from html import escape
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import Field

from companion.auth.owner_login import redeem_ticket
from companion.auth.principal import OWNER_USER_ID, Principal, PrincipalKind, Role
from companion.auth.sessions import SESSION_COOKIE, SESSION_TTL_SECS
from companion.auth.setup import AuthMode, OidcConfig
from companion.core.errors import AuthenticationError, BadRequestError
from companion.core.schema import Schema
from companion.middleware.access import optional_auth, public, requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.body_limit import small_body
from companion.middleware.docs import QueryParam, documented
from companion.middleware.session import refuse_cross_site
from companion.routes.bodies import read_json
from companion.routes.html_pages import esc, page
from companion.routes.keys import IDENTITY, SERVER_INFO
from companion.routes.owner_access import owner_only
from companion.routes.replies import CallerOut, RoleRequestOut, shaped
from companion.storage import RoleRequestRecord

LOGIN_STATE_COOKIE = "bodhiapp_login_state"
CALLBACK_PATH = "/bodhi/v1/auth/callback"
UI_PATH = "/ui/"
FALLBACK_LANDING = "/signed-in"


class SetupRequest(Schema):
    mode: Literal["local", "oidc"] = "local"
    name: str | None = Field(None, min_length=1, max_length=100)
    issuer: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class CallbackRequest(Schema):
    code: str = Field(min_length=1)
    state: str = Field(min_length=1)


_OWNER_LOGIN_QUERY = (
    QueryParam("ticket", "The one-time ticket."),
    QueryParam("next", "A path on this server to land on."),
)


_CALLBACK_QUERY = (
    QueryParam("code", "The authorization code."),
    QueryParam("state", "The login state."),
)


def _landing(request: web.Request) -> str:
    has_ui = any(r.canonical.startswith("/ui") for r in request.app.router.resources())
    return UI_PATH if has_ui else FALLBACK_LANDING


def _local_path(target: str | None) -> str | None:
    """``next`` after an owner login: a path on this server, never another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        raise BadRequestError("'next' must be a path on this server.", code="invalid_next",
                              param="next")
    return target


def _redirect_uri(request: web.Request) -> str:
    return request.app[SERVER_INFO].url + CALLBACK_PATH


def _set_session(request: web.Request, response: web.StreamResponse, session_id: str) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="Strict",
                        secure=request.secure, path="/", max_age=SESSION_TTL_SECS)


def _signed_in(request: web.Request, response: web.Response, session_id: str) -> web.Response:
    """An OIDC sign-in finished: the session cookie on, the one-time login state off."""
    _set_session(request, response, session_id)
    response.del_cookie(LOGIN_STATE_COOKIE, path="/bodhi/v1/auth/")
    return response


def _moving_on(location: str) -> web.Response:
    url = escape(location, quote=True)
    return web.Response(content_type="text/html", text=(
        f'<!doctype html><meta http-equiv="refresh" content="0;url={url}">'
        f'<title>Signed in</title><p>Signed in. <a href="{url}">Continue</a></p>'))


_ROLE_TEXT = {Role.USER: "user", Role.POWER_USER: "power user", Role.MANAGER: "manager",
              Role.ADMIN: "admin"}
_NEXT_STEPS = (
    "<h2>What you can do next</h2><ul>"
    "<li>Answer apps: an app that signs in with Bodhi sends you to a consent page here, "
    "where you choose what it may use.</li>"
    "<li>Browser extension: pair it from its popup (<em>Pair</em>, or the code from "
    "<code>bodhi pair</code>), then allow the sites you trust.</li>"
    "<li>Scripts and SDKs: create an API token with <code>bodhi token create</code> and use "
    "the OpenAI-compatible API under <code>/v1</code>.</li></ul>"
    "<h2>Look around</h2><ul>"
    '<li><a href="/bodhi/v1/user">Your account</a> (JSON)</li>'
    '<li><a href="/bodhi/v1/models">Models on this companion</a> (JSON)</li>'
    '<li><a href="/bodhi/v1/tokens">Your API tokens</a> (JSON)</li>'
    '<li><a href="/bodhi/v1/info">Companion status</a> (JSON)</li></ul>')


def signed_in_body(principal: Principal) -> str:
    role = (f"with the role <strong>{esc(_ROLE_TEXT[principal.role])}</strong>"
            if principal.role else "with no role yet: an admin has to give you access "
            "before you can use the models")
    who = esc(principal.username or principal.user_id or "unknown")
    return (f"<h1>You are signed in as {who}</h1>"
            f'<div class="panel">Signed in to this Bodhi companion {role}. The session '
            "lives in this browser only.</div>" + (_NEXT_STEPS if principal.role else ""))


@optional_auth
@documented("The page a browser lands on after signing in", media="text/html",
            response={"type": "string"}, errors=(401,), error_pages=(401,))
async def signed_in(request: web.Request) -> web.Response:
    principal = request[PRINCIPAL]
    if principal.kind is not PrincipalKind.SESSION:
        return page("Not signed in · Bodhi", "<h1>You are not signed in</h1><p>Run "
                    "<code>bodhi open</code> on the companion's machine to sign in as its "
                    "owner, or sign in with your account.</p>", 401)
    return page("Signed in · Bodhi", signed_in_body(principal))


@owner_only
@documented("Choose the sign-in mode (local owner or OIDC), once", body=SetupRequest, errors=(409,))
async def choose_sign_in_mode(request: web.Request) -> web.Response:
    """Choose or change the sign-in mode: only with the owner's proof (no setup window)."""
    body = SetupRequest.model_validate(await read_json(request, SetupRequest))
    oidc = (OidcConfig(body.issuer or "", body.client_id or "", body.client_secret)
            if body.mode == "oidc" else None)
    modes = request.app[IDENTITY].modes
    change = await modes.plan(AuthMode(body.mode), body.name, oidc)
    state = await modes.apply(change)
    return web.json_response({"status": state.status.value, "auth_mode": state.auth_mode.value,
                              "name": state.name, "changes": change.describe()})


@public
@documented("Redeem a one-time owner sign-in link for a browser session", media="text/html",
            response={"type": "string"}, status=302,
            query=_OWNER_LOGIN_QUERY,
            errors=(400, 401))
async def owner_login(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    target = _local_path(request.query.get("next")) or _landing(request)
    await redeem_ticket(identity.db, identity.tickets, request.query.get("ticket", ""))
    session_id = await identity.sessions.start(OWNER_USER_ID, OWNER_USER_ID, Role.ADMIN)
    response = _moving_on(target)
    _set_session(request, response, session_id)
    return response


async def _begin(request: web.Request) -> tuple[str, str]:
    return await request.app[IDENTITY].oidc.begin(_redirect_uri(request))


def _remember_state(response: web.StreamResponse, state: str, secure: bool) -> None:
    # Lax, not Strict: the provider sends the browser back with a cross-site navigation.
    response.set_cookie(LOGIN_STATE_COOKIE, state, httponly=True, samesite="Lax",
                        secure=secure, path="/bodhi/v1/auth/", max_age=600)


@public
@documented("Start an OIDC sign-in: where to send the browser", errors=(400,))
async def initiate(request: web.Request) -> web.Response:
    location, state = await _begin(request)
    response = web.json_response({"location": location})
    _remember_state(response, state, request.secure)
    return response


@public
@documented("Start an OIDC sign-in by redirect", media=None, status=302, errors=(400,))
async def initiate_redirect(request: web.Request) -> web.Response:
    location, state = await _begin(request)
    response = web.Response(status=302, headers={"Location": location})
    _remember_state(response, state, request.secure)
    return response


async def _finish(request: web.Request, code: str, state: str) -> str:
    """Check the state against this browser's cookie, sign in, start a session."""
    expected = request.cookies.get(LOGIN_STATE_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), state.encode()):
        raise AuthenticationError("Sign-in failed: the state does not match this browser's "
                                  "sign-in; start again.", code="auth_error-login_failed")
    identity = request.app[IDENTITY]
    found = await identity.oidc.finish(code, state, _redirect_uri(request))
    user = await identity.users.sign_in(found.subject, found.username, found.email)
    return await identity.sessions.start(user.id, user.username,
                                         Role(user.role) if user.role else None, found.tokens)


@public
@documented("Finish an OIDC sign-in (browser redirect)", media="text/html",
            response={"type": "string"},
            query=_CALLBACK_QUERY,
            errors=(400, 401))
async def callback_redirect(request: web.Request) -> web.Response:
    if "error" in request.query:
        raise AuthenticationError(f"Sign-in failed: the provider answered "
                                  f"{request.query['error'][:100]!r}.",
                                  code="auth_error-login_failed")
    session_id = await _finish(request, request.query.get("code", ""),
                               request.query.get("state", ""))
    return _signed_in(request, _moving_on(_landing(request)), session_id)


@public
@small_body
@documented("Finish an OIDC sign-in (JSON)", body=CallbackRequest, errors=(401,))
async def callback(request: web.Request) -> web.Response:
    body = CallbackRequest.model_validate(await read_json(request, CallbackRequest))
    session_id = await _finish(request, body.code, body.state)
    return _signed_in(request, web.json_response({"location": _landing(request)}), session_id)


@public
@small_body
@documented("Sign out: end this browser session")
async def logout(request: web.Request) -> web.Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        # A public route skips the session step, so its CSRF check is made here.
        refuse_cross_site(request)
        await request.app[IDENTITY].sessions.end(session_id)
    response = web.json_response({"location": "/"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def _user_json(principal: Principal) -> dict[str, Any]:
    role = principal.role.value if principal.role else None
    if principal.kind is PrincipalKind.ANONYMOUS:
        return shaped(CallerOut, {"auth_status": "logged_out"})
    if principal.kind is PrincipalKind.SESSION:
        return shaped(CallerOut, {"auth_status": "logged_in", "user_id": principal.user_id,
                                  "username": principal.username, "role": role})
    return shaped(CallerOut, {"auth_status": principal.kind.value,
                              "user_id": principal.user_id, "role": role,
                              "scopes": sorted(principal.scopes)})


@optional_auth
@documented("Who is calling: user, role and credential kind", response=CallerOut)
async def user(request: web.Request) -> web.Response:
    return web.json_response(_user_json(request[PRINCIPAL]))


def request_json(record: RoleRequestRecord) -> dict[str, Any]:
    return shaped(RoleRequestOut, {
        "id": record.id, "user_id": record.user_id, "username": record.username,
        "status": record.status, "role": record.role, "reviewer_id": record.reviewer_id,
        "created_at": record.created_at, "updated_at": record.updated_at})


@requires(None, session_only=True)
@small_body
@documented("Ask the admins for a role", response=RoleRequestOut, status=201,
            errors=(400, 409))
async def request_access(request: web.Request) -> web.Response:
    record = await request.app[IDENTITY].users.request_access(request[PRINCIPAL])
    return web.json_response(request_json(record), status=201)


@requires(None, session_only=True)
@documented("The state of your role request", response=RoleRequestOut, errors=(404,))
async def request_status(request: web.Request) -> web.Response:
    record = await request.app[IDENTITY].users.request_status(request[PRINCIPAL])
    return web.json_response(request_json(record))


def setup(app: web.Application) -> None:
    app.router.add_post("/bodhi/v1/setup", choose_sign_in_mode)
    app.router.add_get("/bodhi/v1/auth/owner-login", owner_login)
    app.router.add_post("/bodhi/v1/auth/initiate", initiate)
    app.router.add_get("/bodhi/v1/auth/initiate", initiate_redirect)
    app.router.add_post(CALLBACK_PATH, callback)
    app.router.add_get(CALLBACK_PATH, callback_redirect)
    app.router.add_post("/bodhi/v1/logout", logout)
    app.router.add_get("/bodhi/v1/user", user)
    app.router.add_get(FALLBACK_LANDING, signed_in)
    app.router.add_post("/bodhi/v1/user/request-access", request_access)
    app.router.add_get("/bodhi/v1/user/request-status", request_status)
