"""Apps: the paired extension, access requests, grants, app tokens and OAuth clients.

Services only; no web framework here. ``AppServices.build`` wires them the one way the server
(and the tests) use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
from companion.storage.extension import ExtensionRepository
from companion.storage.grants import AppAccessRequestRepository, GrantRepository
from companion.storage.oauth import OAuthRepository

__all__ = [
    "AccessGrant",
    "AppAccessRequest",
    "AppAccessRequestService",
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
    bus: EventBus
    watches: tuple[ChangeWatch, ...]

    @classmethod
    def build(cls, db: Database, home: Path, issuer: str, bus: EventBus,
              roles: RoleLookup = owner_only_roles,
              token_secs: int = ACCESS_TOKEN_SECS,
              mcp: McpBinding | None = None) -> AppServices:
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

    async def purge(self, now: int, keep_secs: int) -> dict[str, int]:
        """Delete what has ended: expired pairing codes and refresh tokens at once; decided
        requests, ended grants and OAuth codes once they are ``keep_secs`` old."""
        before = now - keep_secs
        purged = {"pairing_codes": await self.extension.purge_codes(now),
                  "refresh_tokens": await self.tokens.purge(now),
                  "access_requests": await self.requests.purge(before),
                  "oauth_codes": await self.oauth.purge_codes(before),
                  "grants": await self.grants.purge(before)}
        return {table: count for table, count in purged.items() if count}

    async def flush_last_used(self) -> None:
        await self.extension.flush_last_used()
        await self.grants.flush_last_used()

    def close(self) -> None:
        for watch in self.watches:
            watch.close()
