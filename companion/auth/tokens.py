"""API tokens: ``bodhiapp_`` opaque tokens, shown once, stored as SHA-256 hashes.

A token is ``bodhiapp_<43 url-safe chars>``. The first characters after the kind prefix
are a lookup key stored in clear; the whole token is only ever compared as a SHA-256 digest,
in constant time. Each token belongs to a user, acts with the lower of its scope and its
user's current role, may be limited to some models and may expire. Last use is recorded in
memory and written in batches (``flush_last_used``). Validated tokens are cached in memory;
the cache is dropped on every change made here, by ``invalidate()`` (user changes) and
whenever any other connection commits to the database (see ``ChangeWatch``), so a revoke from
the CLI or the API takes effect on the server's very next request.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import json
import secrets
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from companion.auth.principal import OWNER_USER_ID, Principal, PrincipalKind, Role
from companion.core.errors import (
    AuthenticationError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
)
from companion.core.opaque_secrets import digest, lookup_key, same_digest
from companion.storage import ApiTokenRecord, ApiTokenRepository, ChangeWatch

TOKEN_PREFIX = "bodhiapp_"
MAX_NAME = 100
ALL_MCPS = "*"


class TokenScope(StrEnum):
    USER = "scope_token_user"
    POWER_USER = "scope_token_power_user"

    @property
    def role(self) -> Role:
        """The most a token of this scope may do."""
        return Role.POWER_USER if self is TokenScope.POWER_USER else Role.USER


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    scopes: frozenset[str]
    active: bool
    created_at: int
    last_used_at: int | None
    user_id: str = OWNER_USER_ID
    models: frozenset[str] | None = None    # None: every model
    expires_at: int | None = None
    updated_at: int = 0
    # The token's user's role when it was verified; None when not looked up.
    user_role: Role | None = None
    # The user's MCP instances it may use: none by default, None for every one.
    mcps: frozenset[str] | None = frozenset()

    # Cached: a verified token is kept in memory and asked on every request it makes.
    @functools.cached_property
    def scope_role(self) -> Role:
        ranked = [TokenScope(s).role for s in self.scopes if s in set(TokenScope)]
        return max(ranked, key=lambda r: r.rank, default=Role.USER)

    @functools.cached_property
    def role(self) -> Role:
        """What the token may do: its scope, capped by its user's current role."""
        scope = self.scope_role
        if self.user_role is None or self.user_role.at_least(scope):
            return scope
        return self.user_role

    @functools.cached_property
    def principal(self) -> Principal:
        """The caller this token makes of a request."""
        return Principal(PrincipalKind.API_TOKEN, role=self.role, user_id=self.user_id,
                         scopes=self.scopes, token_id=self.id, models=self.models,
                         mcps=self.mcps)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @classmethod
    def from_record(cls, record: ApiTokenRecord, user_role: str | None = None) -> ApiToken:
        models = None if record.models is None else frozenset(json.loads(record.models))
        return cls(record.id, record.name, frozenset(record.scopes.split()),
                   record.status == "active", record.created_at, record.last_used_at,
                   record.user_id, models, record.expires_at, record.updated_at,
                   Role(user_role) if user_role else None, _mcps(record.mcps))


def _mcps(stored: str | None) -> frozenset[str] | None:
    if stored == ALL_MCPS:
        return None
    return frozenset(json.loads(stored)) if stored else frozenset()


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise BadRequestError(f"token name must be 1 to {MAX_NAME} characters", param="name")
    return name


def _not_found(token_id: str) -> NotFoundError:
    return NotFoundError(f"no API token with id {token_id}", code="db_error-item_not_found")


class ApiTokenService:
    def __init__(self, repo: ApiTokenRepository, watch: ChangeWatch | None = None) -> None:
        self._repo = repo
        self._watch = watch
        self._valid: dict[str, ApiToken] = {}
        self._last_used: dict[str, int] = {}

    async def create(self, name: str, scope: TokenScope = TokenScope.USER, *,
                     user_id: str = OWNER_USER_ID, creator_role: Role = Role.ADMIN,
                     models: Collection[str] | None = None,
                     expires_in: int | None = None,
                     mcps: Collection[str] | Literal["all"] | None = None
                     ) -> tuple[ApiToken, str]:
        """A new token for ``user_id``; its scope may not exceed the creator's role.

        ``mcps``: the user's MCP instances it may use ("all", some ids, or none)."""
        name = _clean_name(name)
        if not creator_role.at_least(scope.role):
            raise ForbiddenError(f"A {creator_role.value} cannot create a {scope.value} token.",
                                 code="token_error-scope_too_high", param="scope")
        if expires_in is not None and expires_in <= 0:
            raise BadRequestError("expires_in must be a positive number of seconds",
                                  param="expires_in")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = int(time.time())
        grant = None if models is None else json.dumps(sorted(set(models)))
        record = ApiTokenRecord(str(uuid.uuid4()), name, lookup_key(raw, TOKEN_PREFIX), digest(raw),
                                scope.value, "active", now, now, None, user_id, grant,
                                None if expires_in is None else now + expires_in,
                                ALL_MCPS if mcps == "all" else
                                json.dumps(sorted(set(mcps))) if mcps else None)
        await self._repo.insert(record)
        self.invalidate()
        return ApiToken.from_record(record), raw

    async def list(self) -> list[ApiToken]:
        return [ApiToken.from_record(r) for r in await self._repo.list_all()]

    async def list_for_user(self, user_id: str, limit: int, offset: int
                            ) -> tuple[builtins.list[ApiToken], int]:
        records, total = await self._repo.list_for_user(user_id, limit, offset)
        return [self._with_last_use(ApiToken.from_record(r)) for r in records], total

    async def get_own(self, token_id: str, user_id: str) -> ApiToken:
        record = await self._repo.get(token_id)
        if record is None or record.user_id != user_id:
            raise _not_found(token_id)
        return self._with_last_use(ApiToken.from_record(record))

    def _with_last_use(self, token: ApiToken) -> ApiToken:
        """The token with a use not yet written (``flush_last_used``) already counted, so a
        list right after a call shows it without a write per request."""
        pending = self._last_used.get(token.id)
        if pending is None or (token.last_used_at or 0) >= pending:
            return token
        return dataclasses.replace(token, last_used_at=pending)

    async def update(self, token_id: str, user_id: str, *, name: str | None = None,
                     active: bool | None = None) -> ApiToken:
        await self.get_own(token_id, user_id)
        now = int(time.time())
        if name is not None:
            await self._repo.rename(token_id, _clean_name(name), now)
        if active is not None:
            await self._repo.set_status(token_id, "active" if active else "inactive", now)
        self.invalidate()
        return await self.get_own(token_id, user_id)

    async def delete(self, token_id: str, user_id: str) -> None:
        await self.get_own(token_id, user_id)
        await self._repo.delete(token_id)
        self.invalidate()

    async def revoke(self, token_id: str) -> ApiToken:
        if not await self._repo.set_status(token_id, "inactive", int(time.time())):
            raise _not_found(token_id)
        self.invalidate()
        record = await self._repo.get(token_id)
        assert record is not None
        return ApiToken.from_record(record)

    def invalidate(self) -> None:
        """Forget every validated token (a token, user or role changed)."""
        self._valid.clear()

    async def flush_last_used(self) -> None:
        """Write last-use times in one batch rather than one write per request."""
        if self._last_used:
            used, self._last_used = self._last_used, {}
            await self._repo.touch_last_used(used)

    async def verify(self, raw: str) -> ApiToken | None:
        """``None`` when ``raw`` is not an API token at all; raises when it is one but bad."""
        if not raw.startswith(TOKEN_PREFIX):
            return None
        if self._watch is not None and self._watch.changed():
            self._valid.clear()
        hashed = digest(raw)
        token = self._valid.get(hashed) or await self._lookup(raw, hashed)
        now = time.time()
        if token.expired(now):
            raise AuthenticationError("API token has expired", code="auth_error-token_expired")
        self._last_used[token.id] = int(now)
        return token

    async def _lookup(self, raw: str, hashed: str) -> ApiToken:
        for match in await self._repo.find_by_prefix(lookup_key(raw, TOKEN_PREFIX)):
            if same_digest(match.record.token_hash, hashed):
                if match.record.status != "active":
                    raise AuthenticationError("API token is inactive",
                                              code="auth_error-token_inactive")
                if match.user_role is None:
                    raise AuthenticationError("The token's user no longer has access",
                                              code="auth_error-user_inactive")
                token = ApiToken.from_record(match.record, match.user_role)
                self._valid[hashed] = token
                return token
        raise AuthenticationError("API token is not valid", code="auth_error-invalid_token")
