"""OAuth 2.1 with a remote MCP server, the protocol only: the companion is the OAuth client.

This module owns the wire: discovery (RFC 9728 protected-resource metadata, then RFC 8414 or
OpenID authorization-server metadata), dynamic client registration (RFC 7591), the
authorization-code flow with PKCE S256 and the RFC 8707 ``resource`` parameter, the code
exchange and refresh. Every call goes through the httpx client it is handed
(``core/upstream.make_client`` in production), so a test hands it a real local server.

Storing credentials and tokens (encrypted), keeping the pending login in the session, the
per-instance refresh lock and the HTTP routes belong to the callers. Every failure is a
``McpAuthError`` whose message names the server and its OAuth error but never a client
secret, token, code or verifier (servers' own descriptions are scrubbed of them too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, get_args
from urllib.parse import quote, urlsplit

from pydantic import AnyUrl, ValidationError

from companion.core.errors import McpAuthError

if TYPE_CHECKING:
    # httpx and the MCP SDK (a good part of a second) load with the first OAuth flow.
    import httpx
    from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata

__all__ = [
    "AuthServerInfo",
    "ClientCredentials",
    "McpAuthError",
    "PendingLogin",
    "TokenAuthMethod",
    "TokenSet",
    "discover",
    "exchange_code",
    "needs_refresh",
    "preregistered_client",
    "read_callback",
    "refresh",
    "register_client",
    "start_login",
]

TokenAuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]
TOKEN_AUTH_METHODS: tuple[str, ...] = get_args(TokenAuthMethod)
_TIMEOUT_SECS = 15.0
_DESCRIPTION_CHARS = 300
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _protocol_headers() -> dict[str, str]:
    from mcp_types import LATEST_PROTOCOL_VERSION

    return {"MCP-Protocol-Version": LATEST_PROTOCOL_VERSION}


def _initialize() -> dict[str, Any]:
    """The first request any MCP client sends; an OAuth-protected server refuses it with a
    401 naming its resource metadata, which is how the MCP spec says discovery starts."""
    from mcp_types import LATEST_PROTOCOL_VERSION

    return {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": {},
                       "clientInfo": {"name": "bodhi-companion", "version": "0"}}}


@dataclass(frozen=True)
class AuthServerInfo:
    """What discovery found: the MCP server's resource and its authorization server.

    Plain values, so ``dataclasses.asdict`` stores it and ``from_dict`` reads it back.
    """

    server_url: str
    resource: str  # the canonical resource URI (RFC 8707), sent with every request
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None
    scopes_supported: tuple[str, ...] | None
    code_challenge_methods: tuple[str, ...]
    token_endpoint_auth_methods: tuple[str, ...] | None = None
    iss_in_response: bool = False  # RFC 9207: the redirect back must carry ``iss``

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuthServerInfo:
        """The inverse of ``dataclasses.asdict`` after a JSON round trip (lists to tuples)."""
        values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                                  for key, value in data.items()}
        return cls(**values)


@dataclass(frozen=True)
class ClientCredentials:
    """The companion's client at one authorization server (registered by hand or by DCR)."""

    client_id: str
    client_secret: str | None = field(repr=False)
    token_endpoint_auth_method: TokenAuthMethod

    def __post_init__(self) -> None:
        if self.token_endpoint_auth_method not in TOKEN_AUTH_METHODS:
            raise McpAuthError(
                f"Unsupported token endpoint authentication "
                f"'{self.token_endpoint_auth_method}'; use one of {', '.join(TOKEN_AUTH_METHODS)}.",
                code="mcp_oauth_bad_client", status=400)
        if self.token_endpoint_auth_method != "none" and not self.client_secret:
            raise McpAuthError("This client authenticates with a secret, but none was given.",
                               code="mcp_oauth_bad_client", status=400)


@dataclass(frozen=True)
class PendingLogin:
    """A login in progress: the caller keeps it in the user's session until the callback."""

    state: str
    code_verifier: str = field(repr=False)
    authorize_url: str


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None  # seconds since the epoch; None: the server did not say
    scope: str | None
    token_type: str = "Bearer"


# ---- discovery -----------------------------------------------------------------------------

async def discover(client: httpx.AsyncClient, server_url: str) -> AuthServerInfo:
    """Find the authorization server of the MCP server at ``server_url`` and what it offers.

    RFC 9728 first (the ``resource_metadata`` of a refused request, else the path-based then
    the root well-known URL), then RFC 8414 / OpenID metadata of its first authorization
    server. Refuses a server that does not offer PKCE with S256.
    """
    resource_meta = await _protected_resource(client, server_url)
    issuer = str(resource_meta.authorization_servers[0])
    meta = await _authorization_server(client, server_url, issuer)
    info = AuthServerInfo(
        server_url=server_url, resource=str(resource_meta.resource), issuer=str(meta.issuer),
        authorization_endpoint=str(meta.authorization_endpoint),
        token_endpoint=str(meta.token_endpoint),
        registration_endpoint=_optional_str(meta.registration_endpoint),
        scopes_supported=_optional_tuple(resource_meta.scopes_supported
                                         or meta.scopes_supported),
        code_challenge_methods=tuple(meta.code_challenge_methods_supported or ()),
        token_endpoint_auth_methods=_optional_tuple(meta.token_endpoint_auth_methods_supported),
        iss_in_response=bool(meta.authorization_response_iss_parameter_supported))
    _check_usable(info)
    return info


async def _protected_resource(client: httpx.AsyncClient,
                              server_url: str) -> ProtectedResourceMetadata:
    from mcp.client.auth.utils import build_protected_resource_metadata_discovery_urls
    from mcp.shared.auth import ProtectedResourceMetadata
    from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url

    header_url = await _probe(client, server_url)
    for url in build_protected_resource_metadata_discovery_urls(header_url, server_url):
        body = await _get_metadata(client, url, server_url)
        if body is None:
            continue
        try:
            found = ProtectedResourceMetadata.model_validate(body)
        except ValidationError:
            continue  # as the SDK does: a bad document at one place, try the next
        # RFC 9728 §3.3: metadata for another resource would hand our tokens to someone else.
        if not check_resource_allowed(resource_url_from_server_url(server_url),
                                      str(found.resource)):
            raise McpAuthError(f"The MCP server {server_url} published metadata for another "
                               f"resource ({found.resource}).", code="mcp_oauth_discovery_failed")
        return found
    raise McpAuthError(f"The MCP server {server_url} publishes no OAuth protected-resource "
                       "metadata (RFC 9728); check that its authentication really is OAuth.",
                       code="mcp_oauth_discovery_failed")


async def _probe(client: httpx.AsyncClient, server_url: str) -> str | None:
    """The ``resource_metadata`` URL an unauthenticated request is refused with, if any."""
    import httpx

    headers = {**_protocol_headers(), "Accept": "application/json, text/event-stream"}
    try:
        # Streamed and never read: a server that does not need a token may answer with an
        # event stream, and only the status line and headers matter here.
        async with client.stream("POST", server_url, json=_initialize(), headers=headers,
                                 timeout=_TIMEOUT_SECS) as reply:
            if reply.status_code not in (401, 403):
                return None
            return _www_authenticate_param(reply.headers.get("www-authenticate", ""),
                                           "resource_metadata")
    except httpx.HTTPError as exc:
        raise _unreachable(f"the MCP server {server_url}", exc) from exc


def _www_authenticate_param(header: str, name: str) -> str | None:
    match = re.search(rf'(?:^|[\s,]){name}=(?:"([^"]*)"|([^\s,]+))', header)
    return (match.group(1) or match.group(2)) if match else None


async def _authorization_server(client: httpx.AsyncClient, server_url: str,
                                issuer: str) -> OAuthMetadata:
    from mcp.client.auth.utils import (
        build_oauth_authorization_server_metadata_discovery_urls,
        issuers_match,
    )
    from mcp.shared.auth import OAuthMetadata

    for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, server_url):
        body = await _get_metadata(client, url, issuer)
        if body is None:
            continue
        try:
            meta = OAuthMetadata.model_validate(body)
        except ValidationError as exc:
            raise McpAuthError(f"The authorization server {issuer} published invalid "
                               f"metadata at {url}.", code="mcp_oauth_discovery_failed") from exc
        # RFC 8414 §3.3: the document must be about the issuer we were sent to.
        if not issuers_match(str(meta.issuer), issuer):
            raise McpAuthError(f"The metadata at {url} names another issuer ({meta.issuer}) "
                               f"than {issuer}.", code="mcp_oauth_discovery_failed")
        return meta
    raise McpAuthError(f"The authorization server {issuer} publishes no OAuth (RFC 8414) or "
                       "OpenID metadata.", code="mcp_oauth_discovery_failed")


async def _get_metadata(client: httpx.AsyncClient, url: str,
                        who: str) -> dict[str, Any] | None:
    """A metadata document; None where there is none (redirects are not followed)."""
    import httpx

    try:
        reply = await client.get(url, headers=_protocol_headers(), timeout=_TIMEOUT_SECS)
    except httpx.HTTPError as exc:
        raise _unreachable(who, exc) from exc
    if reply.status_code >= 500:
        raise McpAuthError(f"{who} failed to serve {url} (HTTP {reply.status_code}).",
                           code="mcp_oauth_discovery_failed")
    if reply.status_code != 200:
        return None
    try:
        body = reply.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _check_usable(info: AuthServerInfo) -> None:
    if "S256" not in info.code_challenge_methods:
        raise McpAuthError(
            f"The authorization server {info.issuer} does not support PKCE with S256 "
            "(code_challenge_methods_supported), which OAuth 2.1 and MCP require; the companion "
            "will not sign in there.", code="mcp_oauth_no_pkce")
    for url in (info.authorization_endpoint, info.token_endpoint, info.registration_endpoint):
        # OAuth 2.1 §1.5: secrets and tokens only over TLS; plain HTTP only on this machine.
        parts = urlsplit(url or "https://")
        if parts.scheme != "https" and parts.hostname not in _LOOPBACK_HOSTS:
            raise McpAuthError(f"The authorization server {info.issuer} has an endpoint without "
                               f"HTTPS ({url}).", code="mcp_oauth_insecure")


def _optional_str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _optional_tuple(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


# ---- clients -------------------------------------------------------------------------------

def preregistered_client(info: AuthServerInfo, client_id: str,
                         client_secret: str | None) -> ClientCredentials:
    """Credentials registered by hand: the token endpoint authentication the server offers."""
    return ClientCredentials(client_id, client_secret or None,
                             _auth_method(info, confidential=bool(client_secret)))


def _auth_method(info: AuthServerInfo, *, confidential: bool) -> TokenAuthMethod:
    if not confidential:
        return "none"
    # RFC 8414 §2: a server that lists no methods supports client_secret_basic.
    offered = info.token_endpoint_auth_methods or ("client_secret_basic",)
    if "client_secret_basic" in offered:
        return "client_secret_basic"
    if "client_secret_post" in offered:
        return "client_secret_post"
    return "none"


async def register_client(client: httpx.AsyncClient, info: AuthServerInfo, redirect_uri: str,
                          client_name: str) -> ClientCredentials:
    """Register the companion with the authorization server (RFC 7591)."""
    import httpx
    from mcp.shared.auth import OAuthClientMetadata

    if info.registration_endpoint is None:
        raise McpAuthError(
            f"The authorization server {info.issuer} does not offer dynamic client "
            "registration; register a client by hand and enter its id and secret.",
            code="mcp_oauth_registration_unsupported", status=400)
    metadata = OAuthClientMetadata(
        redirect_uris=[_url(redirect_uri)], client_name=client_name,
        token_endpoint_auth_method=_auth_method(info, confidential=True),
        grant_types=["authorization_code", "refresh_token"], response_types=["code"])
    try:
        reply = await client.post(info.registration_endpoint, timeout=_TIMEOUT_SECS,
                                  json=metadata.model_dump(mode="json", exclude_none=True))
    except httpx.HTTPError as exc:
        raise _unreachable(f"the authorization server {info.issuer}", exc) from exc
    if reply.status_code not in (200, 201):
        raise _refused(reply, f"The authorization server {info.issuer} refused to register "
                       "the companion", "mcp_oauth_registration_failed", ())
    return _registered(info, reply)


def _registered(info: AuthServerInfo, reply: httpx.Response) -> ClientCredentials:
    from mcp.shared.auth import OAuthClientInformationFull

    try:
        full = OAuthClientInformationFull.model_validate_json(reply.content)
    except ValidationError as exc:
        raise McpAuthError(f"The authorization server {info.issuer} answered the registration "
                           "with an invalid document.", code="mcp_oauth_bad_response") from exc
    method = full.token_endpoint_auth_method or ("client_secret_basic" if full.client_secret
                                                 else "none")
    if method not in TOKEN_AUTH_METHODS:
        raise McpAuthError(f"The authorization server {info.issuer} registered the companion "
                           f"for '{method}' client authentication, which it does not support.",
                           code="mcp_oauth_registration_failed")
    return ClientCredentials(full.client_id, full.client_secret, cast(TokenAuthMethod, method))


def _url(value: str) -> AnyUrl:
    try:
        return AnyUrl(value)
    except ValidationError as exc:
        raise McpAuthError(f"Not a valid redirect URI: {value}", code="mcp_oauth_bad_redirect_uri",
                           status=400) from exc


# ---- the authorization-code flow -----------------------------------------------------------

def start_login(info: AuthServerInfo, creds: ClientCredentials, redirect_uri: str,
                scopes: Sequence[str] | None = None) -> PendingLogin:
    """The URL to send the user to, and what the callback needs to finish.

    ``scopes``: None asks for those the server advertises (none if it advertises none);
    an empty list asks for no scope at all.
    """
    state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": creds.client_id,
              "redirect_uri": redirect_uri, "state": state,
              "code_challenge": _s256(verifier), "code_challenge_method": "S256",
              "resource": info.resource}
    chosen = info.scopes_supported if scopes is None else scopes
    if chosen:
        params["scope"] = " ".join(chosen)
    import httpx

    url = httpx.URL(info.authorization_endpoint).copy_merge_params(params)
    return PendingLogin(state, verifier, str(url))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def read_callback(params: Mapping[str, str], expected_state: str, info: AuthServerInfo) -> str:
    """The authorization code from the redirect back, once it is proven to be ours.

    The state must be the one this login started with (compared in constant time), the server
    must not report an error, and an ``iss`` (RFC 9207) must name the server we sent the
    user to (it is required if the server said it sends one).
    """
    from mcp.client.auth.utils import issuers_match

    state = params.get("state", "")
    if not expected_state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise McpAuthError("The sign-in came back with an unknown state; start again.",
                           code="mcp_oauth_state_mismatch", status=400)
    if "error" in params:
        detail = _detail(params["error"], params.get("error_description"), ())
        raise McpAuthError(f"The authorization server {info.issuer} did not authorize the "
                           f"companion: {detail}.", code="mcp_oauth_denied", status=400,
                           oauth_error=params["error"])
    iss = params.get("iss")
    if (iss is None and info.iss_in_response) or (iss is not None
                                                  and not issuers_match(iss, info.issuer)):
        raise McpAuthError(f"The sign-in came back from another issuer than {info.issuer}.",
                           code="mcp_oauth_issuer_mismatch", status=400)
    if not params.get("code"):
        raise McpAuthError("The sign-in came back without an authorization code.",
                           code="mcp_oauth_no_code", status=400)
    return params["code"]


async def exchange_code(client: httpx.AsyncClient, info: AuthServerInfo,
                        creds: ClientCredentials, pending: PendingLogin, code: str,
                        redirect_uri: str) -> TokenSet:
    """Trade the authorization code (and the PKCE verifier) for tokens."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": pending.code_verifier}
    return await _token_request(client, info, creds, form, "the authorization code",
                                "mcp_oauth_exchange_failed", hide=(code, pending.code_verifier))


async def refresh(client: httpx.AsyncClient, info: AuthServerInfo, creds: ClientCredentials,
                  refresh_token: str) -> TokenSet:
    """New tokens for a refresh token; the old refresh token stays if no new one comes.

    Raises ``McpAuthError`` with ``oauth_error`` set when the server refused (sign in again),
    or code ``mcp_oauth_unreachable`` when it could not be asked (try again later).
    """
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    tokens = await _token_request(client, info, creds, form, "the refresh token",
                                  "mcp_oauth_refresh_failed", hide=(refresh_token,))
    if tokens.refresh_token is None:
        tokens = TokenSet(tokens.access_token, refresh_token, tokens.expires_at, tokens.scope,
                          tokens.token_type)
    return tokens


def needs_refresh(tokens: TokenSet, now: float, margin_secs: float = 60) -> bool:
    """Whether the access token expires within ``margin_secs`` of ``now`` (or already has)."""
    return tokens.expires_at is not None and now >= tokens.expires_at - margin_secs


async def _token_request(client: httpx.AsyncClient, info: AuthServerInfo,
                         creds: ClientCredentials, form: dict[str, str], what: str, code: str,
                         *, hide: Sequence[str]) -> TokenSet:
    # client_id goes in the body for every method: public clients must send it, and servers
    # (the MCP SDK's among them) look the client up by it before checking the secret.
    form = {**form, "client_id": creds.client_id, "resource": info.resource}
    headers = {"Accept": "application/json"}
    if creds.token_endpoint_auth_method == "client_secret_basic":
        headers["Authorization"] = _basic_auth(creds)
    elif creds.token_endpoint_auth_method == "client_secret_post":
        form["client_secret"] = creds.client_secret or ""
    import httpx

    hide = (*hide, creds.client_secret or "")
    try:
        reply = await client.post(info.token_endpoint, data=form, headers=headers,
                                  timeout=_TIMEOUT_SECS)
    except httpx.HTTPError as exc:
        raise _unreachable(f"the authorization server {info.issuer}", exc) from exc
    if reply.status_code != 200:
        raise _refused(reply, f"The authorization server {info.issuer} refused {what}", code,
                       hide)
    return _token_set(info, reply)


def _basic_auth(creds: ClientCredentials) -> str:
    # RFC 6749 §2.3.1: both parts form-encoded before they are joined and base64-encoded.
    pair = f"{quote(creds.client_id, safe='')}:{quote(creds.client_secret or '', safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def _token_set(info: AuthServerInfo, reply: httpx.Response) -> TokenSet:
    from mcp.shared.auth import OAuthToken

    try:
        token = OAuthToken.model_validate_json(reply.content)
    except ValidationError as exc:
        raise McpAuthError(f"The authorization server {info.issuer} answered with an invalid "
                           "token response.", code="mcp_oauth_bad_response") from exc
    expires_at = None if token.expires_in is None else time.time() + token.expires_in
    return TokenSet(token.access_token, token.refresh_token, expires_at, token.scope,
                    token.token_type)


# ---- errors --------------------------------------------------------------------------------

def _unreachable(who: str, exc: httpx.HTTPError) -> McpAuthError:
    # Only the type: an httpx message may quote the request.
    return McpAuthError(f"Could not reach {who} ({type(exc).__name__}).",
                        code="mcp_oauth_unreachable")


def _refused(reply: httpx.Response, doing: str, code: str, hide: Sequence[str]) -> McpAuthError:
    error, description = _oauth_error(reply)
    detail = _detail(error, description, hide) if error else "no OAuth error given"
    return McpAuthError(f"{doing} (HTTP {reply.status_code}): {detail}.", code=code,
                        oauth_error=error)


def _oauth_error(reply: httpx.Response) -> tuple[str | None, str | None]:
    try:
        body = reply.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None, None
    description = body.get("error_description")
    return body["error"], description if isinstance(description, str) else None


def _detail(error: str, description: str | None, hide: Sequence[str]) -> str:
    """``error: description``, shortened, with anything we sent that is secret blotted out
    (a server may echo a code or token in its description)."""
    text = f"{error}: {description}" if description else error
    for secret in hide:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text[:_DESCRIPTION_CHARS]
