"""OAuth 2.0 endpoints for apps outside the browser: consent page, token, revoke, metadata.

``GET /oauth/authorize`` needs the user's logged-in browser session (in local mode the
owner's, from ``bodhi open``) and renders the consent page; its form posts back to
``POST /oauth/authorize``, which redirects to the client with a code or ``access_denied``.
``/oauth/token`` and ``/oauth/revoke`` take form-encoded bodies (RFC 6749 / 7009) and answer
errors as ``{"error", "error_description"}``.
"""

from __future__ import annotations

import html

from aiohttp import web
from multidict import MultiDictProxy, MultiMapping

from companion.apps.grants import GrantTerms
from companion.apps.oauth import AuthorizeParams, RedirectError, redirect_with, server_metadata
from companion.apps.requests import OAUTH_KIND, AccessRequest
from companion.auth.principal import PrincipalKind, Role
from companion.errors import BadRequestError
from companion.middleware.access import optional_auth, public, requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.body_limit import small_body
from companion.routes.keys import APPS, INFERENCE, SERVER_INFO

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:15px system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}}
fieldset{{border:1px solid #ccc;border-radius:6px;margin:1rem 0}}button{{margin-right:.5rem;
padding:.4rem 1rem}}</style></head><body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(text=_PAGE.format(title=html.escape(title), body=body), status=status,
                        content_type="text/html", headers={"Cache-Control": "no-store",
                                                           "X-Frame-Options": "DENY"})


def _params(query: MultiMapping[str]) -> AuthorizeParams:
    return AuthorizeParams(query.get("client_id", ""), query.get("redirect_uri", ""),
                           query.get("response_type", ""), query.get("scope", ""),
                           query.get("state"), query.get("code_challenge", ""),
                           query.get("code_challenge_method", ""))


def _checkboxes(name: str, values: list[str], checked: set[str]) -> str:
    return "".join(
        f'<label><input type="checkbox" name="{name}" value="{html.escape(v)}" '
        f'data-testid="{name}-{html.escape(v)}"{" checked" if v in checked else ""}> '
        f"{html.escape(v)}</label><br>" for v in values)


def _consent(draft: AccessRequest, models: list[str]) -> str:
    scopes = sorted(draft.requested.scopes)
    return (f"<h1>Allow {html.escape(draft.app_name or draft.app)}?</h1>"
            f"<p>The app <b>{html.escape(draft.app_name or '')}</b> "
            f"(<code>{html.escape(draft.app)}</code>) asks to use your Bodhi companion.</p>"
            '<form method="post" action="/oauth/authorize">'
            f'<input type="hidden" name="request_id" value="{html.escape(draft.id)}">'
            f"<fieldset><legend>Scopes</legend>{_checkboxes('scope', scopes, set(scopes))}"
            "</fieldset><fieldset><legend>Models</legend><label><input type='checkbox' "
            "name='all_models' value='1' data-testid='all-models' checked> every model"
            f"</label><br>{_checkboxes('model', models, set())}</fieldset>"
            "<p><label><input type='checkbox' name='remember' value='1' "
            "data-testid='remember'> remember this decision</label></p>"
            '<button name="decision" value="allow" data-testid="consent-allow">Allow</button>'
            '<button name="decision" value="deny" data-testid="consent-deny">Deny</button>'
            "</form>")


@public
async def metadata(request: web.Request) -> web.Response:
    return web.json_response(server_metadata(request.app[SERVER_INFO].url))


@optional_auth
async def authorize(request: web.Request) -> web.StreamResponse:
    params = _params(request.query)
    oauth = request.app[APPS].oauth
    client = await oauth.client_for(params.client_id, params.redirect_uri)
    principal = request[PRINCIPAL]
    if principal.kind is not PrincipalKind.SESSION:
        return _page("Log in first", "<h1>Log in to Bodhi first</h1><p>Open Bodhi in this "
                     "browser (run <code>bodhi open</code>), then reload this page.</p>", 401)
    try:
        draft = await oauth.open_request(principal, client, params)
    except RedirectError as exc:
        raise web.HTTPFound(redirect_with(params.redirect_uri, {
            "error": exc.error, "error_description": exc.description,
            "state": params.state})) from exc
    models = [m.alias for m in request.app[INFERENCE].list_models(principal)]
    return _page(f"Allow {client.name}?", _consent(draft, models))


def _terms(form: Form) -> GrantTerms:
    scopes = frozenset(str(s) for s in form.getall("scope", []))
    models = None if form.get("all_models") else frozenset(
        str(m) for m in form.getall("model", []))
    return GrantTerms(scopes, models, remember=bool(form.get("remember")))


@requires(Role.USER, session_only=True)
@small_body
async def decide(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    apps, principal = request.app[APPS], request[PRINCIPAL]
    draft = await apps.requests.get(str(form.get("request_id", "")), principal)
    if draft.app_kind != OAUTH_KIND:
        raise BadRequestError("Not an OAuth authorization request.", code="invalid_request")
    if form.get("decision") != "allow":
        denied = await apps.requests.deny(draft.id, principal)
        raise web.HTTPFound(apps.oauth.denied_redirect(denied))
    approved, grant = await apps.requests.approve(draft.id, principal, _terms(form))
    raise web.HTTPFound(await apps.oauth.code_redirect(approved, grant))


def _field(form: Form, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"'{name}' is required.", code="invalid_request", param=name)
    return value


@public
@small_body
async def token(request: web.Request) -> web.Response:
    form = await request.post()
    oauth = request.app[APPS].oauth
    grant_type, client_id = form.get("grant_type"), _field(form, "client_id")
    if grant_type == "authorization_code":
        issued = await oauth.exchange_code(client_id, _field(form, "code"),
                                           _field(form, "redirect_uri"),
                                           str(form.get("code_verifier") or ""))
    elif grant_type == "refresh_token":
        issued = await oauth.refresh(client_id, _field(form, "refresh_token"))
    else:
        raise BadRequestError("grant_type must be authorization_code or refresh_token.",
                              code="unsupported_grant_type", param="grant_type")
    return web.json_response(issued.to_json(), headers=_NO_STORE)


@public
@small_body
async def revoke(request: web.Request) -> web.Response:
    form = await request.post()
    await request.app[APPS].oauth.revoke(_field(form, "token"))
    return web.json_response({}, headers=_NO_STORE)


def setup(app: web.Application) -> None:
    app.router.add_get("/.well-known/oauth-authorization-server", metadata)
    app.router.add_get("/oauth/authorize", authorize)
    app.router.add_post("/oauth/authorize", decide)
    app.router.add_post("/oauth/token", token)
    app.router.add_post("/oauth/revoke", revoke)

