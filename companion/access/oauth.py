"""OAuth 2.0 for apps outside the browser: authorization code + PKCE (S256, enforced).

Clients are public (no secret; PKCE is what binds the code to the app that asked) and are
registered by the owner with ``bodhi app register --name NAME --redirect-uri URI``; redirect
URIs are matched exactly. ``/oauth/authorize`` opens an access request for the logged-in user
and shows the companion's consent page; approving it creates a grant and a code (60 s, single
use, stored as a keyed digest) that ``/oauth/token`` exchanges, with the PKCE verifier, for
the same app tokens the extension gets. A code presented twice revokes the grant it produced.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from companion.access.app_tokens import AppTokenService, TokenSet
from companion.access.grants import AccessGrant, GrantService
from companion.access.mcp_binding import check_asks
from companion.access.requests import (
    OAUTH_KIND,
    AppAccessRequest,
    AppAccessRequestService,
    NewRequest,
    Requested,
    check_scopes,
)
from companion.auth.principal import APP_SCOPES, Principal
from companion.core.errors import AuthenticationError, BadRequestError, NotFoundError
from companion.core.keyed_digest import KeyedDigest
from companion.storage.oauth import AuthorizationCodeRecord, OAuthClientRecord, OAuthRepository

CODE_TTL_SECS = 60
CODE_DIGEST = "oauth_code"
CLIENT_PREFIX = "bodhi-client-"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    created_at: int

    @classmethod
    def from_record(cls, r: OAuthClientRecord) -> OAuthClient:
        return cls(r.client_id, r.name, tuple(json.loads(r.redirect_uris)), r.created_at)


@dataclass(frozen=True)
class AuthorizeParams:
    client_id: str
    redirect_uri: str
    response_type: str
    scope: str
    state: str | None
    code_challenge: str
    code_challenge_method: str
    # MCP servers asked for (repeated ``mcp`` parameters): an http(s) URL or a server name.
    mcps: tuple[str, ...] = ()


class RedirectError(Exception):
    """A bad authorization request whose client and redirect URI are trusted: the error goes
    back to the client on its redirect URI (RFC 6749 4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    secure = parts.scheme == "https" or (parts.scheme == "http" and
                                         parts.hostname in _LOOPBACK)
    if not secure or not parts.hostname or parts.fragment:
        raise BadRequestError(f"Redirect URI '{uri}' must be https, or http on a loopback "
                              "address, without a fragment.", code="invalid_redirect_uri",
                              param="redirect_uri")
    return uri


def invalid_grant(message: str) -> BadRequestError:
    return BadRequestError(message, code="invalid_grant")


def redirect_with(uri: str, params: dict[str, str | None]) -> str:
    # authlib loads with the first OAuth flow, not at start.
    from authlib.common.urls import add_params_to_uri

    return str(add_params_to_uri(uri, [(k, v) for k, v in params.items() if v is not None]))


class OAuthService:
    def __init__(self, repo: OAuthRepository, codes: KeyedDigest,
                 requests: AppAccessRequestService, grants: GrantService,
                 tokens: AppTokenService) -> None:
        self._repo = repo
        self._codes = codes
        self._requests = requests
        self._grants = grants
        self._tokens = tokens

    async def register(self, name: str, redirect_uris: Sequence[str]) -> OAuthClient:
        name = name.strip()
        if not name or len(name) > 100:
            raise BadRequestError("client name must be 1 to 100 characters", param="name")
        if not redirect_uris:
            raise BadRequestError("give at least one redirect URI", param="redirect_uri")
        uris = [check_redirect_uri(u) for u in redirect_uris]
        record = OAuthClientRecord(CLIENT_PREFIX + secrets.token_urlsafe(12), name,
                                   json.dumps(uris), int(time.time()))
        await self._repo.insert_client(record)
        return OAuthClient.from_record(record)

    async def clients(self) -> list[OAuthClient]:
        return [OAuthClient.from_record(r) for r in await self._repo.list_clients()]

    async def remove(self, client_id: str) -> None:
        if not await self._repo.delete_client(client_id):
            raise NotFoundError(f"no OAuth client {client_id}", code="db_error-item_not_found")

    async def client_for(self, client_id: str, redirect_uri: str) -> OAuthClient:
        """The registered client, if ``redirect_uri`` is one of its own (else never redirect)."""
        record = await self._repo.get_client(client_id)
        if record is None:
            raise BadRequestError("Unknown client_id.", code="invalid_client",
                                  param="client_id")
        client = OAuthClient.from_record(record)
        if redirect_uri not in client.redirect_uris:
            raise BadRequestError("redirect_uri is not registered for this client.",
                                  code="invalid_redirect_uri", param="redirect_uri")
        return client

    async def open_request(self, caller: Principal, client: OAuthClient,
                           params: AuthorizeParams) -> AppAccessRequest:
        """Check the request (errors go back to the client) and open a draft for consent."""
        requested = _requested(params)
        oauth = {"redirect_uri": params.redirect_uri, "state": params.state,
                 "code_challenge": params.code_challenge}
        assert caller.user_id is not None
        return await self._requests.open(caller.user_id, NewRequest(
            client.client_id, OAUTH_KIND, requested, app_name=client.name, oauth=oauth))

    async def code_redirect(self, request: AppAccessRequest, grant: AccessGrant) -> str:
        """After consent: store a code for the grant and say where to send the browser."""
        assert request.oauth is not None
        code = secrets.token_urlsafe(32)
        now = int(time.time())
        await self._repo.insert_code(AuthorizationCodeRecord(
            self._codes.of(CODE_DIGEST, code), request.app, grant.id,
            request.oauth["redirect_uri"], request.oauth["code_challenge"], now,
            now + CODE_TTL_SECS, None))
        return redirect_with(request.oauth["redirect_uri"],
                             {"code": code, "state": request.oauth.get("state")})

    @staticmethod
    def denied_redirect(request: AppAccessRequest) -> str:
        assert request.oauth is not None
        return redirect_with(request.oauth["redirect_uri"],
                             {"error": "access_denied", "state": request.oauth.get("state")})

    async def exchange_code(self, client_id: str, code: str, redirect_uri: str,
                            verifier: str) -> TokenSet:
        record, first = await self._repo.spend_code(self._codes.of(CODE_DIGEST, code),
                                                  int(time.time()))
        if record is None or record.client_id != client_id:
            raise invalid_grant("The authorization code is not valid.")
        if not first:
            await self._grants.revoke_as_system(record.grant_id)
            raise invalid_grant("The authorization code was already used; the access it "
                                "gave has been revoked.")
        if record.expires_at <= int(time.time()):
            raise invalid_grant("The authorization code has expired.")
        if not hmac.compare_digest(record.redirect_uri, redirect_uri):
            raise invalid_grant("redirect_uri does not match the authorization request.")
        _check_verifier(verifier, record.code_challenge)
        return await self._issue(record.grant_id)

    async def refresh(self, client_id: str, refresh_token: str) -> TokenSet:
        try:
            return await self._tokens.refresh(refresh_token, app=client_id)
        except AuthenticationError as exc:
            raise invalid_grant(exc.message) from exc

    async def revoke(self, token: str) -> None:
        await self._tokens.revoke_refresh(token)

    async def purge_codes(self, expired_before: int) -> int:
        """Delete codes that expired before ``expired_before``; how many."""
        return await self._repo.purge_codes(expired_before)

    async def _issue(self, grant_id: str) -> TokenSet:
        try:
            grant = await self._grants.live(grant_id)
        except AuthenticationError as exc:
            raise invalid_grant(exc.message) from exc
        return await self._tokens.issue(grant)


def _requested(params: AuthorizeParams) -> Requested:
    if params.response_type != "code":
        raise RedirectError("unsupported_response_type", "Only response_type=code is offered.")
    if not params.code_challenge or params.code_challenge_method != "S256":
        raise RedirectError("invalid_request", "PKCE is required: send code_challenge with "
                            "code_challenge_method=S256.")
    scopes = check_scopes_or_redirect(params.scope.split() or sorted(APP_SCOPES))
    asks = [{"url" if re.match(r"https?://", m) else "name": m} for m in params.mcps]
    try:
        return Requested(scopes, mcps=check_asks(asks, scopes))
    except BadRequestError as exc:
        raise RedirectError("invalid_request", exc.message) from exc


def check_scopes_or_redirect(scopes: list[str]) -> frozenset[str]:
    try:
        return check_scopes(scopes, "scope")
    except BadRequestError as exc:
        raise RedirectError("invalid_scope", exc.message) from exc


def _check_verifier(verifier: str, challenge: str) -> None:
    from authlib.oauth2.rfc7636 import create_s256_code_challenge
    from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN

    if not CODE_VERIFIER_PATTERN.match(verifier or ""):
        raise invalid_grant("code_verifier is missing or malformed.")
    if not hmac.compare_digest(create_s256_code_challenge(verifier), challenge):
        raise invalid_grant("code_verifier does not match the code challenge.")


def server_metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    return {"issuer": issuer, "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": sorted(APP_SCOPES)}
