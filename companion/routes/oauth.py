"""OAuth 2.0 endpoints for apps outside the browser: consent page, token, revoke, metadata.

``GET /oauth/authorize`` needs the user's logged-in browser session (in local mode the
owner's, from ``bodhi open``) and renders the consent page; its form posts back to
``POST /oauth/authorize``, which redirects to the client with a code or ``access_denied``.
``/oauth/token`` and ``/oauth/revoke`` take form-encoded bodies (RFC 6749 / 7009) and answer
errors as ``{"error", "error_description"}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDictProxy, MultiMapping

from companion.access.grants import ALLOW_ONCE_DEFAULT_SECS, GrantTerms
from companion.access.mcp_binding import MAX_MCP_ASKS
from companion.access.oauth import AuthorizeParams, RedirectError, redirect_with, server_metadata
from companion.access.requests import OAUTH_KIND, AppAccessRequest
from companion.auth.principal import PrincipalKind, Role
from companion.core.errors import BadRequestError
from companion.middleware.access import optional_auth, public, requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.body_limit import small_body
from companion.middleware.docs import QueryParam, documented
from companion.routes.html_pages import esc, page
from companion.routes.keys import APPS, INFERENCE, MCPS, SERVER_INFO

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_SCOPE_TEXT = {
    "chat": "chat with your models",
    "embeddings": "turn text into embeddings (vectors for search)",
    "models": "see the list of your models",
    "mcp": "use the MCP servers (tools) you connect below",
}


_AUTHORIZE_QUERY = (
    QueryParam("client_id", "The app."),
    QueryParam("redirect_uri", "Where to send the answer."),
    QueryParam("response_type", "code"),
    QueryParam("scope", "Scopes, space separated."),
    QueryParam("state", "The app's state."),
    QueryParam("code_challenge", "PKCE S256 challenge."),
    QueryParam("code_challenge_method", "S256"),
)


def _params(query: MultiMapping[str]) -> AuthorizeParams:
    return AuthorizeParams(query.get("client_id", ""), query.get("redirect_uri", ""),
                           query.get("response_type", ""), query.get("scope", ""),
                           query.get("state"), query.get("code_challenge", ""),
                           query.get("code_challenge_method", ""),
                           tuple(query.getall("mcp", []))[:MAX_MCP_ASKS + 1])


def _checkbox(name: str, value: str, label: str, checked: bool) -> str:
    return (f'<label><input type="checkbox" name="{name}" value="{esc(value)}" '
            f'data-testid="{name}-{esc(value)}"{" checked" if checked else ""}> '
            f"<span>{label}</span></label>")


def _scope_boxes(scopes: list[str]) -> str:
    return "".join(_checkbox("scope", s, f"{esc(_SCOPE_TEXT.get(s, s))} <code>{esc(s)}</code>",
                             True) for s in scopes)


def _model_boxes(models: list[str]) -> str:
    every = ("<label><input type='checkbox' name='all_models' value='1' "
             "data-testid='all-models' checked> <span>every model, including ones you add "
             "later</span></label>")
    return every + "".join(_checkbox("model", m, f"<code>{esc(m)}</code>", False)
                           for m in models)


def _mcp_choices(candidates: list[dict[str, Any]]) -> str:
    """One select per MCP server asked for: an instance of the user's, or not at all."""
    if not candidates:
        return ""
    rows = []
    for n, found in enumerate(candidates):
        asked = esc(next(iter(found["requested"].values())))
        options = "".join(f'<option value="{esc(i["id"])}">{esc(i["name"])} '
                          f'({esc(i["slug"])})</option>' for i in found["instances"])
        if not options:
            why = ("no server is registered for it" if found["server"] is None
                   else "you have no connection to it yet")
            rows.append(f"<div><code>{asked}</code> <span class='muted'>— not allowed: "
                        f"{why}</span></div>")
            continue
        rows.append(f"<label><code>{asked}</code> <select name='mcp' "
                    f"data-testid='mcp-{n}'>{options}"
                    "<option value=''>Don't allow</option></select></label>")
    return f"<fieldset><legend>With MCP servers</legend>{''.join(rows)}</fieldset>"


def _consent(draft: AppAccessRequest, models: list[str], redirect_uri: str,
             mcps: list[dict[str, Any]]) -> str:
    name = esc(draft.app_name or draft.app)
    back_to = urlsplit(redirect_uri).netloc or redirect_uri
    return (f"<h1>Allow <strong>{name}</strong> to use your models?</h1>"
            f'<div class="panel"><div>App <strong>{name}</strong> '
            f"<span class='muted'>(client <code>{esc(draft.app)}</code>)</span></div>"
            f"<div class='muted'>After you answer, you go back to "
            f"<strong>{esc(back_to)}</strong></div></div>"
            '<form method="post" action="/oauth/authorize">'
            f'<input type="hidden" name="request_id" value="{esc(draft.id)}">'
            "<fieldset><legend>It may</legend>"
            f"{_scope_boxes(sorted(draft.requested.scopes))}</fieldset>"
            f"<fieldset><legend>With models</legend>{_model_boxes(models)}</fieldset>"
            f"{_mcp_choices(mcps)}"
            "<fieldset><legend>For how long</legend><label><input type='checkbox' "
            "name='remember' value='1' data-testid='remember'> <span>Until I revoke it. "
            f"Unticked, access ends after {ALLOW_ONCE_DEFAULT_SECS // 60} minutes.</span>"
            "</label></fieldset>"
            # Deny first: pressing Enter submits the form with its first button.
            '<div class="choices">'
            '<button name="decision" value="deny" data-testid="consent-deny">Deny</button>'
            '<button name="decision" value="allow" data-testid="consent-allow">Allow</button>'
            "</div><p class='muted'>Untick anything you do not want to give. Deny sends the app "
            "back with <code>access_denied</code>.</p></form>")


@public
@documented("OAuth 2.0 authorization server metadata (RFC 8414)")
async def metadata(request: web.Request) -> web.Response:
    return web.json_response(server_metadata(request.app[SERVER_INFO].url))


@optional_auth
@documented("OAuth consent page (a redirect back to the app when it must refuse)",
            media="text/html", response={"type": "string"}, also=(302,), query=_AUTHORIZE_QUERY,
            errors=(401,), error_pages=(401,))
async def authorize(request: web.Request) -> web.StreamResponse:
    params = _params(request.query)
    oauth = request.app[APPS].oauth
    client = await oauth.client_for(params.client_id, params.redirect_uri)
    principal = request[PRINCIPAL]
    if principal.kind is not PrincipalKind.SESSION:
        return page("Sign in first", "<h1>Sign in to Bodhi first</h1><p>An app asks to use "
                    "your models, and only a signed-in user can answer. Open Bodhi in this "
                    "browser (run <code>bodhi open</code>), then reload this page.</p>", 401)
    try:
        draft = await oauth.open_request(principal, client, params)
    except RedirectError as exc:
        raise web.HTTPFound(redirect_with(params.redirect_uri, {
            "error": exc.error, "error_description": exc.description,
            "state": params.state})) from exc
    models = [m.alias for m in request.app[INFERENCE].list_models(principal)]
    assert principal.user_id is not None
    mcps = await request.app[MCPS].instances.candidates(principal.user_id,
                                                        draft.requested.mcps)
    return page(f"Allow {client.name}? · Bodhi",
                _consent(draft, models, params.redirect_uri, mcps))


def _terms(form: Form) -> GrantTerms:
    scopes = frozenset(str(s) for s in form.getall("scope", []))
    models = None if form.get("all_models") else frozenset(
        str(m) for m in form.getall("model", []))
    mcps = tuple(str(m) for m in form.getall("mcp", []) if m)
    return GrantTerms(scopes, models, mcps, remember=bool(form.get("remember")))


@requires(Role.USER, session_only=True)
@small_body
@documented("The consent page's answer (redirects to the app)", media=None, status=302,
            errors=(400, 404))
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
@documented("OAuth token endpoint (form encoded)", errors=(400, 401))
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
@documented("OAuth token revocation (form encoded)", errors=(400,))
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

