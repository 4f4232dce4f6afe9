"""Apps: the paired extension, access requests, grants, app tokens and OAuth clients.

Services only; no web framework here. ``AppServices.build`` wires them the one way the server
(and the tests) use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from companion.access.app_tokens import AppTokenService, TokenSet, ensure_signing_key
from companion.access.extension import ExtensionService, RoleLookup, owner_only_roles
from companion.access.grants import AccessGrant, GrantService, GrantTerms
from companion.access.oauth import OAuthService
from companion.access.requests import AppAccessRequest, AppAccessRequestService
from companion.auth.principal import Principal
from companion.core.errors import BadRequestError
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
              roles: RoleLookup = owner_only_roles) -> AppServices:
        # One ChangeWatch per cache: ``changed()`` reports a change once, to one reader.
        ext_watch, grant_watch = ChangeWatch(db.path), ChangeWatch(db.path)
        grant_repo = GrantRepository(db)
        grants = GrantService(grant_repo, bus, grant_watch)
        requests = AppAccessRequestService(AppAccessRequestRepository(db), grants, bus)
        tokens = AppTokenService(ensure_signing_key(home), issuer, grants, grant_repo)
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

    async def flush_last_used(self) -> None:
        await self.extension.flush_last_used()
        await self.grants.flush_last_used()

    def close(self) -> None:
        for watch in self.watches:
            watch.close()
