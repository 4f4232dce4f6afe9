"""API tokens: ``bodhiapp_`` opaque tokens, shown once, stored as SHA-256 hashes.

A token is ``bodhiapp_<43 url-safe chars>``. The first characters after the kind prefix
are a lookup key stored in clear; the whole token is only ever compared as a SHA-256 digest,
in constant time. Last use is recorded in memory and written in batches
(``flush_last_used``). Validated tokens are cached in memory; the cache is dropped whenever any
other connection commits to the database (see ``ChangeWatch``), so a revoke from the CLI
takes effect on the server's very next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

from companion.auth.principal import Role
from companion.errors import AuthenticationError, BadRequestError, NotFoundError
from companion.storage import ApiTokenRecord, ApiTokenRepository, ChangeWatch

TOKEN_PREFIX = "bodhiapp_"
_LOOKUP_CHARS = 8


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

    @property
    def role(self) -> Role:
        ranked = [TokenScope(s).role for s in self.scopes if s in set(TokenScope)]
        return max(ranked, key=lambda r: r.rank, default=Role.USER)

    @classmethod
    def from_record(cls, record: ApiTokenRecord) -> ApiToken:
        return cls(record.id, record.name, frozenset(record.scopes.split()),
                   record.status == "active", record.created_at, record.last_used_at)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _lookup_key(raw: str) -> str:
    return raw[: len(TOKEN_PREFIX) + _LOOKUP_CHARS]


class ApiTokenService:
    def __init__(self, repo: ApiTokenRepository, watch: ChangeWatch | None = None) -> None:
        self._repo = repo
        self._watch = watch
        self._valid: dict[str, ApiToken] = {}
        self._last_used: dict[str, int] = {}

    async def create(self, name: str, scope: TokenScope = TokenScope.USER) -> tuple[ApiToken, str]:
        name = name.strip()
        if not name or len(name) > 100:
            raise BadRequestError("token name must be 1 to 100 characters", param="name")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = int(time.time())
        record = ApiTokenRecord(str(uuid.uuid4()), name, _lookup_key(raw), _digest(raw),
                                scope.value, "active", now, now, None)
        await self._repo.insert(record)
        self._valid.clear()
        return ApiToken.from_record(record), raw

    async def list(self) -> list[ApiToken]:
        return [ApiToken.from_record(r) for r in await self._repo.list_all()]

    async def revoke(self, token_id: str) -> ApiToken:
        if not await self._repo.set_status(token_id, "inactive", int(time.time())):
            raise NotFoundError(f"no API token with id {token_id}",
                                code="db_error-item_not_found")
        self._valid.clear()
        record = await self._repo.get(token_id)
        assert record is not None
        return ApiToken.from_record(record)

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
        digest = _digest(raw)
        cached = self._valid.get(digest)
        if cached is not None:
            self._last_used[cached.id] = int(time.time())
            return cached
        for record in await self._repo.find_by_prefix(_lookup_key(raw)):
            if hmac.compare_digest(record.token_hash, digest):
                if record.status != "active":
                    raise AuthenticationError("API token is inactive",
                                              code="auth_error-token_inactive")
                token = ApiToken.from_record(record)
                self._valid[digest] = token
                self._last_used[token.id] = int(time.time())
                return token
        raise AuthenticationError("API token is not valid", code="auth_error-invalid_token")
