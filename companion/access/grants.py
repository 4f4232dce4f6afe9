"""App grants: which app (browser origin or OAuth client) may do what, for which user.

A grant records the user, the app, scopes, models (``None``: every model), MCP instances,
allow-once vs remembered, expiry and last use. A grant is *live* while active and unexpired.
Live grants are cached in memory for the app-token verifier; the cache is dropped on every
change made here and whenever another process commits (``ChangeWatch``), so a revoked grant
is refused on the very next request. Last use is kept in memory and written in batches.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from companion.auth.principal import Principal, Role
from companion.core import events
from companion.core.errors import AuthenticationError, NotFoundError
from companion.core.events import EventBus
from companion.storage import ChangeWatch
from companion.storage.grants import GrantRecord, GrantRepository

ALLOW_ONCE_DEFAULT_SECS = 3600


@dataclass(frozen=True)
class AccessGrant:
    id: str
    user_id: str
    app: str
    app_kind: str               # "origin" or "oauth_client"
    app_name: str | None
    scopes: frozenset[str]
    models: frozenset[str] | None
    mcps: tuple[str, ...]
    remember: bool
    revoked: bool
    created_at: int
    expires_at: int | None
    last_used_at: int | None

    @classmethod
    def from_record(cls, r: GrantRecord) -> AccessGrant:
        models = None if r.models is None else frozenset(json.loads(r.models))
        return cls(r.id, r.user_id, r.app, r.app_kind, r.app_name, frozenset(r.scopes.split()),
                   models, tuple(json.loads(r.mcps)), bool(r.remember), r.status == "revoked",
                   r.created_at, r.expires_at, r.last_used_at)

    def status(self, now: int | None = None) -> str:
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or int(time.time())):
            return "expired"
        return "active"

    @property
    def live(self) -> bool:
        return self.status() == "active"

    def covers(self, scopes: Collection[str], models: Collection[str] | None) -> bool:
        if not set(scopes) <= self.scopes:
            return False
        if self.models is None:
            return True
        return models is not None and set(models) <= self.models

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "app": self.app, "app_kind": self.app_kind,
                "app_name": self.app_name, "scopes": sorted(self.scopes),
                "models": None if self.models is None else sorted(self.models),
                "mcps": list(self.mcps), "remember": self.remember, "status": self.status(),
                "created_at": self.created_at, "expires_at": self.expires_at,
                "last_used_at": self.last_used_at}


@dataclass(frozen=True)
class GrantTerms:
    """What the user approved."""

    scopes: frozenset[str]
    models: frozenset[str] | None
    mcps: tuple[str, ...] = ()
    remember: bool = False
    expires_in: int | None = None

    def expires_at(self, now: int) -> int | None:
        if self.expires_in is not None:
            return now + self.expires_in
        return None if self.remember else now + ALLOW_ONCE_DEFAULT_SECS


def _grant_error(grant: AccessGrant | None) -> AuthenticationError:
    state = "gone" if grant is None else grant.status()
    return AuthenticationError(f"The app's grant is {state}; ask for access again.",
                               code="auth_error-grant_" + ("revoked" if state == "gone"
                                                           else state))


class GrantService:
    def __init__(self, repo: GrantRepository, bus: EventBus,
                 watch: ChangeWatch | None = None) -> None:
        self._repo = repo
        self._bus = bus
        self._watch = watch
        self._cache: dict[str, AccessGrant | None] = {}
        self._origins: dict[str, int | None] | None = None
        self._last_used: dict[str, int] = {}

    def _forget(self) -> None:
        self._cache.clear()
        self._origins = None

    def _refresh_cache(self) -> None:
        if self._watch is not None and self._watch.changed():
            self._forget()

    async def create(self, user_id: str, app: str, app_kind: str, app_name: str | None,
                     terms: GrantTerms) -> AccessGrant:
        now = int(time.time())
        models = None if terms.models is None else json.dumps(sorted(terms.models))
        record = GrantRecord(str(uuid.uuid4()), user_id, app, app_kind, app_name,
                             " ".join(sorted(terms.scopes)), models, json.dumps(terms.mcps),
                             int(terms.remember), "active", now, now, terms.expires_at(now),
                             None)
        await self._repo.insert(record)
        self._forget()
        grant = AccessGrant.from_record(record)
        self._bus.publish(events.GRANT_CREATED, grant.to_json(), user_id=user_id)
        return grant

    async def get(self, grant_id: str) -> AccessGrant | None:
        record = await self._repo.get(grant_id)
        return None if record is None else AccessGrant.from_record(record)

    async def live(self, grant_id: str) -> AccessGrant:
        """The grant if live (cached), else ``AuthenticationError``; records the use."""
        self._refresh_cache()
        if grant_id not in self._cache:
            self._cache[grant_id] = await self.get(grant_id)
        grant = self._cache[grant_id]
        if grant is None or not grant.live:
            raise _grant_error(grant)
        self._last_used[grant_id] = int(time.time())
        return grant

    async def covering(self, user_id: str, app: str, scopes: Collection[str],
                       models: Collection[str] | None) -> AccessGrant | None:
        """A remembered live grant of this user for this app that covers the request."""
        for record in await self._repo.live_for_app(app, int(time.time())):
            grant = AccessGrant.from_record(record)
            if grant.user_id == user_id and grant.remember and grant.covers(scopes, models):
                return grant
        return None

    async def page(self, user_id: str, page: int, page_size: int
                   ) -> tuple[list[AccessGrant], int]:
        """The user's grants, newest first, with last use as of now (not only as flushed)."""
        records = await self._repo.list_for_user(user_id, page_size, (page - 1) * page_size)
        total = await self._repo.count_for_user(user_id)
        grants = [AccessGrant.from_record(r) for r in records]
        return [dataclasses.replace(g, last_used_at=self.last_used(g)) for g in grants], total

    def last_used(self, grant: AccessGrant) -> int | None:
        """The grant's last use, counting uses not written to the database yet."""
        pending = self._last_used.get(grant.id)
        if pending is None:
            return grant.last_used_at
        return max(pending, grant.last_used_at or 0)

    async def revoke(self, grant_id: str, caller: Principal) -> AccessGrant:
        grant = await self.get(grant_id)
        if grant is None or not _may_manage(caller, grant):
            raise NotFoundError(f"no grant with id {grant_id}", code="db_error-item_not_found")
        return await self._revoke(grant)

    async def revoke_as_system(self, grant_id: str) -> None:
        """Revoke without a caller (a replayed authorization code)."""
        grant = await self.get(grant_id)
        if grant is not None:
            await self._revoke(grant)

    async def _revoke(self, grant: AccessGrant) -> AccessGrant:
        await self._repo.revoke(grant.id, int(time.time()))
        self._forget()
        revoked = await self.get(grant.id)
        assert revoked is not None
        self._bus.publish(events.GRANT_REVOKED, revoked.to_json(), user_id=grant.user_id)
        return revoked

    async def origin_has_grant(self, origin: str) -> bool:
        """Whether a browser origin holds a live grant (CORS is answered only for those)."""
        self._refresh_cache()
        now = int(time.time())
        if self._origins is None:
            self._origins = await self._repo.live_origins(now)
        if origin not in self._origins:
            return False
        until = self._origins[origin]
        return until is None or until > now

    async def purge(self, ended_before: int) -> int:
        """Delete grants that ended (revoked or expired) before ``ended_before``."""
        purged = await self._repo.purge_ended(ended_before)
        if purged:
            self._forget()
        return purged

    async def flush_last_used(self) -> None:
        if self._last_used:
            used, self._last_used = self._last_used, {}
            await self._repo.touch_last_used(used)


def _may_manage(caller: Principal, grant: AccessGrant) -> bool:
    return caller.user_id == grant.user_id or caller.has_role(Role.ADMIN)
