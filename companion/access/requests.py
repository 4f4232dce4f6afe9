"""App access requests: draft → approved | denied | expired.

The extension (for a browser origin) or the OAuth consent page (for an OAuth client) opens a
draft; the user reviews it and approves (which creates a grant) or denies. Drafts nobody
decides on expire after ``DRAFT_TTL_SECS``. Only the user the draft was opened for may decide
it; who may open and decide is enforced by the routes' declarations, never by the page.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from companion.access.grants import AccessGrant, GrantService, GrantTerms
from companion.auth.principal import APP_SCOPES, Principal
from companion.core import events
from companion.core.errors import BadRequestError, ConflictError, NotFoundError
from companion.core.events import EventBus
from companion.storage.grants import AppAccessRequestRecord, AppAccessRequestRepository

DRAFT_TTL_SECS = 600
ORIGIN_KIND = "origin"
OAUTH_KIND = "oauth_client"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def check_origin(origin: str) -> str:
    """A browser origin: scheme, host and optional port, nothing more."""
    if not _ORIGIN.match(origin):
        raise BadRequestError(f"'{origin}' is not an origin like http://127.0.0.1:8001.",
                              code="invalid_origin", param="origin")
    return origin.lower()


def check_scopes(scopes: Collection[str], param: str = "scopes") -> frozenset[str]:
    unknown = sorted(set(scopes) - APP_SCOPES)
    if unknown:
        raise BadRequestError(f"Unknown scopes {unknown}; known: {sorted(APP_SCOPES)}.",
                              code="invalid_scope", param=param)
    if not scopes:
        raise BadRequestError("Ask for at least one scope.", code="invalid_scope", param=param)
    return frozenset(scopes)


@dataclass(frozen=True)
class Requested:
    scopes: frozenset[str]
    models: frozenset[str] | None = None
    mcps: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"scopes": sorted(self.scopes),
                "models": None if self.models is None else sorted(self.models),
                "mcps": list(self.mcps)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Requested:
        models = data.get("models")
        return cls(frozenset(data["scopes"]), None if models is None else frozenset(models),
                   tuple(data.get("mcps") or ()))


@dataclass(frozen=True)
class AppAccessRequest:
    id: str
    app: str
    app_kind: str
    app_name: str | None
    reason: str | None
    requested: Requested
    status: str
    user_id: str
    grant_id: str | None
    oauth: dict[str, Any] | None
    created_at: int
    expires_at: int

    @classmethod
    def from_record(cls, r: AppAccessRequestRecord) -> AppAccessRequest:
        status = r.status
        if status == "draft" and r.expires_at <= int(time.time()):
            status = "expired"
        return cls(r.id, r.app, r.app_kind, r.app_name, r.reason,
                   Requested.from_json(json.loads(r.requested)), status, r.user_id, r.grant_id,
                   json.loads(r.oauth) if r.oauth else None, r.created_at, r.expires_at)

    def to_json(self) -> dict[str, Any]:
        body = {"id": self.id, "app": self.app, "app_kind": self.app_kind,
                "app_name": self.app_name, "reason": self.reason,
                "requested": self.requested.to_json(), "status": self.status,
                "created_at": self.created_at, "expires_at": self.expires_at}
        if self.app_kind == ORIGIN_KIND:
            body["origin"] = self.app
        if self.grant_id is not None:
            body["grant_id"] = self.grant_id
        return body

    def update_json(self) -> dict[str, Any]:
        return {"id": self.id, "app": self.app, "status": self.status,
                "grant_id": self.grant_id}


@dataclass(frozen=True)
class NewRequest:
    app: str
    app_kind: str
    requested: Requested
    app_name: str | None = None
    reason: str | None = None
    oauth: dict[str, Any] | None = None


class AppAccessRequestService:
    def __init__(self, repo: AppAccessRequestRepository, grants: GrantService,
                 bus: EventBus) -> None:
        self._repo = repo
        self._grants = grants
        self._bus = bus

    async def open(self, user_id: str, new: NewRequest) -> AppAccessRequest:
        """A draft, or an already-approved request when a remembered grant covers it."""
        check_scopes(new.requested.scopes, "requested.scopes")
        covering = None
        if new.app_kind == ORIGIN_KIND:
            covering = await self._grants.covering(user_id, new.app, new.requested.scopes,
                                                   new.requested.models)
        now = int(time.time())
        record = AppAccessRequestRecord(
            str(uuid.uuid4()), new.app, new.app_kind, _clip(new.app_name), _clip(new.reason),
            json.dumps(new.requested.to_json()), "approved" if covering else "draft", user_id,
            covering.id if covering else None, json.dumps(new.oauth) if new.oauth else None,
            now, now, now + DRAFT_TTL_SECS)
        await self._repo.insert(record)
        request = AppAccessRequest.from_record(record)
        if covering is None:
            self._bus.publish(events.ACCESS_REQUEST_CREATED, request.to_json(),
                              user_id=user_id)
        return request

    async def get(self, request_id: str, caller: Principal) -> AppAccessRequest:
        request = await self._find(request_id)
        if request is None or request.user_id != caller.user_id:
            raise NotFoundError(f"no access request with id {request_id}",
                                code="access_request_not_found")
        return request

    async def status_for_app(self, request_id: str, app: str) -> AppAccessRequest:
        """For the app's own polling: only with the app id the request was opened for."""
        request = await self._find(request_id)
        if request is None or request.app not in {app, app.lower()}:
            raise NotFoundError(f"no access request with id {request_id} for this app",
                                code="access_request_not_found")
        return request

    async def approve(self, request_id: str, caller: Principal, terms: GrantTerms
                      ) -> tuple[AppAccessRequest, AccessGrant]:
        request = await self._draft(request_id, caller)
        check_scopes(terms.scopes)
        extra = sorted(terms.scopes - request.requested.scopes)
        if extra:
            raise BadRequestError(f"The app did not ask for {extra}.", code="invalid_scope",
                                  param="scopes")
        grant = await self._grants.create(request.user_id, request.app, request.app_kind,
                                          request.app_name, terms)
        if not await self._repo.decide(request_id, "approved", grant.id, int(time.time())):
            await self._grants.revoke(grant.id, caller)
            raise _no_longer_draft(request_id)
        return await self._announce(request_id), grant

    async def deny(self, request_id: str, caller: Principal) -> AppAccessRequest:
        await self._draft(request_id, caller)
        if not await self._repo.decide(request_id, "denied", None, int(time.time())):
            raise _no_longer_draft(request_id)
        return await self._announce(request_id)

    async def expire_drafts(self) -> int:
        """Mark drafts past their time expired and tell subscribers."""
        expired = await self._repo.expire_drafts(int(time.time()))
        for record in expired:
            request = AppAccessRequest.from_record(record)
            self._bus.publish(events.ACCESS_REQUEST_UPDATED,
                              {**request.update_json(), "status": "expired"},
                              user_id=request.user_id)
        return len(expired)

    async def _find(self, request_id: str) -> AppAccessRequest | None:
        record = await self._repo.get(request_id)
        return None if record is None else AppAccessRequest.from_record(record)

    async def _draft(self, request_id: str, caller: Principal) -> AppAccessRequest:
        request = await self.get(request_id, caller)
        if request.status != "draft":
            raise _no_longer_draft(request_id, request.status)
        return request

    async def _announce(self, request_id: str) -> AppAccessRequest:
        request = await self._find(request_id)
        assert request is not None
        self._bus.publish(events.ACCESS_REQUEST_UPDATED, request.update_json(),
                          user_id=request.user_id)
        return request


def _no_longer_draft(request_id: str, status: str = "decided or expired") -> ConflictError:
    return ConflictError(f"Access request {request_id} is {status}; it can no longer be "
                         "decided.", code="access_request_not_draft")


def _clip(text: str | None, limit: int = 500) -> str | None:
    return None if text is None else text.strip()[:limit] or None
