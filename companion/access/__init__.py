"""Apps: the paired extension, access requests, grants, app tokens and OAuth clients.

Services only; no web framework here. ``AppServices.build`` wires them the one way the server
(and the tests) use them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion.access.activity import AppActivity, AppCall
from companion.access.app_tokens import (
    ACCESS_TOKEN_SECS,
    AppTokenService,
    TokenSet,
    ensure_signing_key,
)
from companion.access.extension import ExtensionService, RoleLookup, owner_only_roles
from companion.access.grants import AccessGrant, GrantService, GrantTerms
from companion.access.mcp_binding import McpBinding
from companion.access.oauth import OAuthService
from companion.access.requests import ORIGIN_KIND, AppAccessRequest, AppAccessRequestService
from companion.auth.principal import Principal
from companion.core.errors import BadRequestError, NotFoundError
from companion.core.events import EventBus
from companion.core.keyed_digest import KeyedDigest
from companion.storage import ChangeWatch, Database
from companion.storage.app_activity import AppActivityRepository
from companion.storage.extension import ExtensionRepository
from companion.storage.grants import AppAccessRequestRepository, GrantRepository
from companion.storage.oauth import OAuthRepository

__all__ = [
    "AccessGrant",
    "AppAccessRequest",
    "AppAccessRequestService",
    "AppActivity",
    "AppCall",
    "AppServices",
    "AppTokenService",
    "ExtensionService",
    "GrantService",
    "GrantTerms",
    "OAuthService",
]


@dataclass(frozen=True)
class AppServices:
    extension: ExtensionService
    grants: GrantService
    requests: AppAccessRequestService
    tokens: AppTokenService
    oauth: OAuthService
    activity: AppActivity
    bus: EventBus
    watches: tuple[ChangeWatch, ...]

    @classmethod
    def build(cls, db: Database, home: Path, issuer: str, bus: EventBus,
              roles: RoleLookup = owner_only_roles,
              token_secs: int = ACCESS_TOKEN_SECS,
              mcp: McpBinding | None = None,
              activity_keep: Callable[[], int] = lambda: 1000) -> AppServices:
        # One ChangeWatch per cache: ``changed()`` reports a change once, to one reader.
        ext_watch, grant_watch = ChangeWatch(db.path), ChangeWatch(db.path)
        grant_repo = GrantRepository(db)
        grants = GrantService(grant_repo, bus, grant_watch)
        requests = AppAccessRequestService(AppAccessRequestRepository(db), grants, bus,
                                           mcp=mcp)
        tokens = AppTokenService(ensure_signing_key(home), issuer, grants, grant_repo,
                                 token_secs)
        codes = KeyedDigest.for_home(home)
        return cls(ExtensionService(ExtensionRepository(db), codes, ext_watch, roles), grants,
                   requests, tokens,
                   OAuthService(OAuthRepository(db), codes, requests, grants, tokens),
                   AppActivity(AppActivityRepository(db), activity_keep, bus=bus),
                   bus, (ext_watch, grant_watch))

    async def token_for_request(self, request_id: str, caller: Principal) -> TokenSet:
        """App tokens for an approved access request of the caller's user."""
        request = await self.requests.get(request_id, caller)
        if request.status != "approved" or request.grant_id is None:
            raise BadRequestError(f"Access request {request_id} is {request.status}, not "
                                  "approved.", code="access_request_not_approved",
                                  param="request_id")
        return await self.tokens.issue(await self.grants.live(request.grant_id))

    async def token_for_grant(self, grant_id: str, caller: Principal) -> TokenSet:
        """App tokens for a remembered grant of the caller's user for a browser origin: what
        the extension uses when ``request-access`` answered from such a grant."""
        grant = await self.grants.live(grant_id)
        if grant.user_id != caller.user_id or grant.app_kind != ORIGIN_KIND or \
                not grant.remember:
            raise NotFoundError(f"no remembered grant with id {grant_id}",
                                code="db_error-item_not_found")
        return await self.tokens.issue(grant)

    async def grant_activity(self, grant_id: str, caller: Principal, page: int,
                             page_size: int) -> dict[str, Any]:
        """What one of the caller's own grants did, newest first, and when it was last used."""
        grant = await self.grants.get(grant_id)
        if grant is None or grant.user_id != caller.user_id:
            raise NotFoundError(f"no grant with id {grant_id}", code="db_error-item_not_found")
        rows, total = await self.activity.page(grant.id, page, page_size)
        return {"data": rows, "total": total, "grant_id": grant.id, "app": grant.app,
                "last_used_at": self.grants.last_used(grant)}

    async def purge(self, now: int, keep_secs: int) -> dict[str, int]:
        """Delete what has ended: expired pairing codes and refresh tokens at once; decided
        requests, ended grants and OAuth codes once they are ``keep_secs`` old; activity
        entries of grants that are gone, and those older than ``keep_secs`` (at least a day)."""
        before = now - keep_secs
        purged = {"pairing_codes": await self.extension.purge_codes(now),
                  "refresh_tokens": await self.tokens.purge(now),
                  "access_requests": await self.requests.purge(before),
                  "oauth_codes": await self.oauth.purge_codes(before),
                  "grants": await self.grants.purge(before)}
        # Activity of live grants is kept at least a day, whatever the history setting.
        purged["app_activity"] = await self.activity.purge(now - max(keep_secs, 86400))
        return {table: count for table, count in purged.items() if count}

    async def flush_last_used(self) -> None:
        """Write what is batched in memory: last-use times and the activity record."""
        await self.extension.flush_last_used()
        await self.grants.flush_last_used()
        await self.activity.flush()

    def close(self) -> None:
        for watch in self.watches:
            watch.close()
