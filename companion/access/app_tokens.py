"""App access tokens: short-lived signed JWTs bound to a grant, and rotating refresh tokens.

Access tokens are JWTs signed with HS256 by joserfc (authlib's JOSE library) with a key kept
in ``$BODHI_HOME/app_jwt.key`` (mode 0600). Claims: ``iss``, ``sub`` (user id), ``aud``
(``bodhi-companion``), ``azp`` (origin or OAuth client id), ``scope``, ``gid`` (grant id),
``models`` (list or ``"*"``), ``iat``, ``exp``, ``jti``. A valid signature is not enough: the
grant must still be live (``GrantService.live``), so revoking a grant ends its tokens at once.

Refresh tokens (``bodhiref_...``) are opaque, stored as digests, and single use: each refresh
spends the old one and returns a new pair. Presenting a spent one again revokes every refresh
token of that grant, since it means someone else holds a copy.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from companion.access.grants import AccessGrant, GrantService
from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core.errors import AuthenticationError
from companion.core.home import private_file
from companion.core.opaque_secrets import digest, new_secret
from companion.storage.grants import GrantRepository, RefreshTokenRecord

if TYPE_CHECKING:
    from joserfc.jwk import OctKey
    from joserfc.jwt import JWTClaimsRegistry

AUDIENCE = "bodhi-companion"
ACCESS_TOKEN_SECS = 900             # the default of BODHI_APP_TOKEN_SECS
REFRESH_TOKEN_SECS = 30 * 24 * 3600
REFRESH_PREFIX = "bodhiref_"
SIGNING_KEY_FILE = "app_jwt.key"
_ALGORITHM = "HS256"


def ensure_signing_key(home: Path) -> bytes:
    """The HS256 key, created on first use with mode 0600."""
    return private_file(home / SIGNING_KEY_FILE, lambda: os.urandom(32))


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int
    expires_at: int
    grant: AccessGrant

    def to_json(self) -> dict[str, Any]:
        models = self.grant.models
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "token_type": "Bearer", "expires_in": self.expires_in,
                "expires_at": self.expires_at, "scope": " ".join(sorted(self.grant.scopes)),
                "grant_id": self.grant.id,
                "models": None if models is None else sorted(models)}


def _refresh_refused(why: str) -> AuthenticationError:
    return AuthenticationError(f"Refresh token {why}; ask for access again.",
                               code="auth_error-invalid_refresh_token")


def _looks_like_jwt(raw: str) -> bool:
    return raw.startswith("eyJ") and raw.count(".") == 2


class AppTokenService:
    def __init__(self, key: bytes, issuer: str, grants: GrantService,
                 repo: GrantRepository, access_secs: int = ACCESS_TOKEN_SECS) -> None:
        self._raw_key = key
        self._issuer = issuer
        self._grants = grants
        self._repo = repo
        self._access_secs = access_secs

    @cached_property
    def _key(self) -> OctKey:
        # joserfc (with cryptography, a tenth of a second to import) loads with the first
        # app token, not at start.
        from joserfc.jwk import OctKey

        return OctKey.import_key(self._raw_key)

    @cached_property
    def _claims(self) -> JWTClaimsRegistry:
        from joserfc.jwt import JWTClaimsRegistry

        return JWTClaimsRegistry(
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True}, sub={"essential": True}, gid={"essential": True})

    async def issue(self, grant: AccessGrant) -> TokenSet:
        """A fresh access token and refresh token for a live grant."""
        from joserfc import jwt

        now = int(time.time())
        expires_at = now + self._access_secs
        if grant.expires_at is not None:
            expires_at = min(expires_at, grant.expires_at)
        claims = {"iss": self._issuer, "sub": grant.user_id, "aud": AUDIENCE, "azp": grant.app,
                  "scope": " ".join(sorted(grant.scopes)), "gid": grant.id,
                  "models": "*" if grant.models is None else sorted(grant.models),
                  "iat": now, "exp": expires_at, "jti": str(uuid.uuid4())}
        access = jwt.encode({"alg": _ALGORITHM, "typ": "JWT"}, claims, self._key)
        refresh = new_secret(REFRESH_PREFIX)
        refresh_until = now + REFRESH_TOKEN_SECS
        if grant.expires_at is not None:
            refresh_until = min(refresh_until, grant.expires_at)
        await self._repo.insert_refresh(RefreshTokenRecord(digest(refresh), grant.id, "active",
                                                           now, refresh_until))
        return TokenSet(access, refresh, expires_at - now, expires_at, grant)

    async def refresh(self, raw: str, app: str | None = None) -> TokenSet:
        """Spend ``raw`` and return a new pair; ``app`` (OAuth client id) must match."""
        record = await self._repo.get_refresh(digest(raw))
        if record is None:
            raise _refresh_refused("is not valid or has expired")
        if record.expires_at <= int(time.time()):
            # A refresh token ends with its grant: say that the grant ended (expired or
            # revoked), so the app knows to ask again rather than retry.
            await self._grants.live(record.grant_id)
            raise _refresh_refused("has expired")
        if record.status == "used":
            await self._repo.revoke_refresh_for(record.grant_id)
            raise _refresh_refused("was already used")
        grant = await self._grants.live(record.grant_id)
        if app is not None and grant.app != app:
            raise _refresh_refused("belongs to another app")
        if not await self._repo.use_refresh(digest(raw)):
            raise _refresh_refused("was already used or revoked")
        return await self.issue(grant)

    async def purge(self, now: int) -> int:
        """Delete expired refresh tokens; how many."""
        return await self._repo.purge_refresh(now)

    async def revoke_refresh(self, raw: str) -> None:
        """RFC 7009 semantics: revoking an unknown token is not an error."""
        record = await self._repo.get_refresh(digest(raw))
        if record is not None:
            await self._repo.revoke_refresh_for(record.grant_id)

    async def verify(self, raw: str) -> Principal | None:
        """The app principal for a valid token of a live grant; ``None`` if not a JWT."""
        if not _looks_like_jwt(raw):
            return None
        from joserfc import jwt
        from joserfc.errors import JoseError

        try:
            token = jwt.decode(raw, self._key, algorithms=[_ALGORITHM])
            self._claims.validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise AuthenticationError("App access token is not valid or has expired.",
                                      code="auth_error-invalid_token") from exc
        grant = await self._grants.live(str(token.claims["gid"]))
        return Principal(PrincipalKind.APP_TOKEN, role=Role.USER, user_id=grant.user_id,
                         scopes=grant.scopes, token_id=grant.id, models=grant.models,
                         app=grant.app,
                         mcps=frozenset(grant.mcps) if "mcp" in grant.scopes else frozenset())
