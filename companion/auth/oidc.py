"""Sign-in with any OpenID Connect provider: authorization code + PKCE (S256) via authlib.

``begin`` stores a login in progress (state, nonce, PKCE verifier) and returns the provider's
authorization URL; ``finish`` takes the state back exactly once, exchanges the code with the
verifier, and verifies the ID token (signature against the provider's JWKS, ``iss``, ``aud``,
``exp``, ``nonce``). The provider's discovery document and keys are fetched once and kept.
Every call goes through the shared httpx client (``core/upstream.make_client``), so a test
hands it a client on its own transport. Nothing here logs a code, token or secret.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from companion.auth.sessions import ProviderTokens
from companion.auth.setup import OidcConfig, SetupService
from companion.core.errors import AuthenticationError, BadRequestError
from companion.storage import SessionRepository
from companion.storage.sessions import LoginState

if TYPE_CHECKING:
    # authlib, joserfc and httpx load with the first sign-in, not at start.
    import httpx
    from joserfc.jwk import KeySet

    from companion.auth.oidc_client import OidcClient

LOGIN_STATE_TTL_SECS = 600
SCOPES = "openid email profile"
_TIMEOUT_SECS = 15.0
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OidcIdentity:
    subject: str
    username: str
    email: str | None
    tokens: ProviderTokens


def _login_failed(reason: str) -> AuthenticationError:
    return AuthenticationError(f"Sign-in failed: {reason}", code="auth_error-login_failed")


def _provider_tokens(token: dict[str, Any]) -> ProviderTokens:
    expires_in = token.get("expires_in")
    return ProviderTokens(token.get("refresh_token"),
                          int(time.time()) + int(expires_in) if expires_in else None)


class OidcLogin:
    def __init__(self, setup: SetupService, repo: SessionRepository,
                 http: Callable[[], httpx.AsyncClient]) -> None:
        self._setup = setup
        self._repo = repo
        self._http = http
        self._discovery: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, KeySet] = {}

    async def begin(self, redirect_uri: str) -> tuple[str, str]:
        """The provider's authorization URL and the state the callback must bring back."""
        config = await self._config()
        meta = await self._metadata(config)
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        url, _ = self._client(config, redirect_uri).create_authorization_url(
            meta["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce)
        await self._repo.put_login_state(LoginState(state, nonce, verifier, int(time.time())))
        return url, state

    async def finish(self, code: str, state: str, redirect_uri: str) -> OidcIdentity:
        import httpx
        from authlib.integrations.base_client import OAuthError
        from joserfc.errors import JoseError

        login = await self._repo.take_login_state(state)
        if login is None or login.created_at + LOGIN_STATE_TTL_SECS < time.time():
            raise _login_failed("unknown or expired state; start again")
        config = await self._config()
        meta = await self._metadata(config)
        try:
            token = await self._client(config, redirect_uri).fetch_token(
                meta["token_endpoint"], code=code, code_verifier=login.code_verifier,
                timeout=_TIMEOUT_SECS)
            claims = await self._verify_id_token(config, meta, token.get("id_token"),
                                                 login.nonce)
        except (OAuthError, httpx.HTTPError, JoseError, ValueError) as exc:
            log.info("OIDC sign-in refused: %s", type(exc).__name__)
            raise _login_failed("the identity provider did not confirm it") from exc
        username = str(claims.get("preferred_username") or claims.get("email")
                       or claims["sub"])
        email = claims.get("email")
        return OidcIdentity(str(claims["sub"]), username, str(email) if email else None,
                            _provider_tokens(token))

    async def refresh(self, refresh_token: str) -> ProviderTokens | None:
        from authlib.integrations.base_client import OAuthError

        config = await self._config()
        meta = await self._metadata(config)
        try:
            token = await self._client(config, None).refresh_token(
                meta["token_endpoint"], refresh_token=refresh_token, timeout=_TIMEOUT_SECS)
        except OAuthError:
            return None
        return _provider_tokens(token)

    async def _config(self) -> OidcConfig:
        config = await self._setup.oidc_config()
        if config is None:
            raise BadRequestError("Sign-in with an identity provider is not configured; this "
                                  "companion runs in local mode (use 'bodhi open').",
                                  code="auth_error-oidc_not_configured")
        return config

    def _client(self, config: OidcConfig, redirect_uri: str | None) -> OidcClient:
        from companion.auth.oidc_client import OidcClient

        return OidcClient(
            self._http(), config.client_id, config.client_secret, scope=SCOPES,
            redirect_uri=redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if config.client_secret else "none")

    async def _metadata(self, config: OidcConfig) -> dict[str, Any]:
        meta = self._discovery.get(config.issuer)
        if meta is None:
            url = config.issuer + "/.well-known/openid-configuration"
            meta = await self._get_json(url)
            if meta.get("issuer", "").rstrip("/") != config.issuer:
                raise _login_failed("the provider's discovery document names another issuer")
            self._discovery[config.issuer] = meta
        return meta

    async def _verify_id_token(self, config: OidcConfig, meta: dict[str, Any],
                               id_token: object, nonce: str) -> dict[str, Any]:
        if not isinstance(id_token, str):
            raise ValueError("no ID token in the token response")
        from joserfc import jwt
        from joserfc.errors import JoseError

        keys = self._keys.get(config.issuer) or await self._load_keys(config, meta)
        try:
            decoded = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        except JoseError:
            # The provider may have rotated its keys since we fetched them: once more.
            decoded = jwt.decode(id_token, await self._load_keys(config, meta),
                                 algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=60, iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": config.client_id}, exp={"essential": True},
            sub={"essential": True}, nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
        return dict(decoded.claims)

    async def _load_keys(self, config: OidcConfig, meta: dict[str, Any]) -> KeySet:
        from joserfc.jwk import KeySet

        keys = KeySet.import_key_set(await self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        self._keys[config.issuer] = keys
        return keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self._http().get(url, timeout=_TIMEOUT_SECS)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise _login_failed(f"{url} did not answer a JSON object")
        return body
