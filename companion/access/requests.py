"""App access requests: draft → approved | denied | expired.

The extension (for a browser origin) or the OAuth consent page (for an OAuth client) opens a
draft; the user reviews it and approves (which creates a grant) or denies. Drafts nobody
decides on expire after ``DRAFT_TTL_SECS``. Only the user the draft was opened for may decide
it; who may open and decide is enforced by the routes' declarations, never by the page.

Asking is bounded three ways, so a page cannot flood the user or the database:

- a request that a remembered grant already covers is answered from the grant, with no row;
- each app may ask ``ASK_BURST`` times, then ``ASK_PER_MINUTE`` times a minute (429);
- after a browser origin is refused (denied, or left to expire) it must wait before a new
  draft: ``COOLDOWN_FIRST_SECS``, doubling with each refusal in a row up to
  ``COOLDOWN_MAX_SECS`` (429 ``access_request_cooldown``). The companion keeps this, not the
  extension, so it survives the extension's restarts and counts refusals made in any place.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from companion.access.grants import AccessGrant, GrantService, GrantTerms
from companion.access.mcp_binding import McpBinding, check_asks
from companion.access.rate_limit import RateLimiter
from companion.auth.principal import APP_SCOPES, Principal
from companion.core import events
from companion.core.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    TooManyRequestsError,
)
from companion.core.events import EventBus
from companion.storage.grants import AppAccessRequestRecord, AppAccessRequestRepository

DRAFT_TTL_SECS = 600
ASK_BURST = 30
ASK_PER_MINUTE = 30
COOLDOWN_FIRST_SECS = 10
COOLDOWN_MAX_SECS = 600
# Refusals older than this no longer lengthen the cool-down.
REFUSALS_REMEMBERED_SECS = 3600
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
    # MCP servers asked for: {"url": ...} or {"name": ...} (see ``mcp_binding.check_asks``).
    mcps: tuple[dict[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"scopes": sorted(self.scopes),
                "models": None if self.models is None else sorted(self.models),
                "mcps": [dict(m) for m in self.mcps]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Requested:
        models = data.get("models")
        return cls(frozenset(data["scopes"]), None if models is None else frozenset(models),
                   tuple(dict(m) for m in data.get("mcps") or () if isinstance(m, dict)))


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


def cooldown_until(outcomes: Sequence[tuple[str, int]]) -> int | None:
    """When an origin may ask again, given its decided requests newest first; ``None``: now.

    Refusals in a row (back to the last approval) double the wait from the latest one.
    """
    refusals = 0
    for status, _ in outcomes:
        if status == "approved":
            break
        refusals += 1
    if refusals == 0:
        return None
    wait = min(COOLDOWN_FIRST_SECS << min(refusals - 1, 16), COOLDOWN_MAX_SECS)
    return outcomes[0][1] + wait


class AppAccessRequestService:
    def __init__(self, repo: AppAccessRequestRepository, grants: GrantService,
                 bus: EventBus, clock: Callable[[], float] = time.time,
                 mcp: McpBinding | None = None) -> None:
        self._repo = repo
        self._grants = grants
        self._mcp = mcp
        self._bus = bus
        self._clock = clock
        self._asks = RateLimiter(ASK_BURST, ASK_PER_MINUTE)

    def _now(self) -> int:
        return int(self._clock())

    async def ask(self, user_id: str, new: NewRequest, interactive: bool = True
                  ) -> AppAccessRequest | AccessGrant:
        """A page asking through the extension: the remembered grant that already covers the
        request (nothing is stored), else a new draft for the user to decide. Not
        ``interactive`` (the page asked without a user action): the grant or a refusal."""
        self._admit(user_id, new)
        covering = await self._grants.covering(user_id, new.app, new.requested.scopes,
                                               new.requested.models)
        if covering is not None and await self._covers_mcps(user_id, new.requested, covering):
            return covering
        if not interactive:
            raise ForbiddenError(f"{new.app} has no remembered grant for this request, and "
                                 "asking the user needs a user action on the page.",
                                 code="access_request_needs_user_action")
        await self._check_cooldown(user_id, new.app)
        return await self._new_draft(user_id, new)

    async def _covers_mcps(self, user_id: str, requested: Requested,
                           grant: AccessGrant) -> bool:
        if not requested.mcps:
            return True
        return self._mcp is not None and await self._mcp.covers(user_id, requested.mcps,
                                                                grant.mcps)

    async def open(self, user_id: str, new: NewRequest) -> AppAccessRequest:
        """A new draft (the OAuth consent page, where the user is already looking)."""
        self._admit(user_id, new)
        return await self._new_draft(user_id, new)

    def _admit(self, user_id: str, new: NewRequest) -> None:
        check_scopes(new.requested.scopes, "requested.scopes")
        check_asks(new.requested.mcps, new.requested.scopes)
        wait = self._asks.take((user_id, new.app_kind, new.app))
        if wait is not None:
            raise TooManyRequestsError(
                f"{new.app} asked for access too often; try again in {wait} s.",
                code="access_request_rate_limited", retry_after=wait)

    async def _check_cooldown(self, user_id: str, app: str) -> None:
        now = self._now()
        outcomes = await self._repo.recent_outcomes(user_id, app,
                                                    now - REFUSALS_REMEMBERED_SECS)
        until = cooldown_until(outcomes)
        if until is not None and until > now:
            raise TooManyRequestsError(
                f"Access for {app} was refused; it may ask again in {until - now} s.",
                code="access_request_cooldown", retry_after=until - now)

    async def _new_draft(self, user_id: str, new: NewRequest) -> AppAccessRequest:
        now = self._now()
        record = AppAccessRequestRecord(
            str(uuid.uuid4()), new.app, new.app_kind, _clip(new.app_name), _clip(new.reason),
            json.dumps(new.requested.to_json()), "draft", user_id, None,
            json.dumps(new.oauth) if new.oauth else None, now, now, now + DRAFT_TTL_SECS)
        await self._repo.insert(record)
        request = AppAccessRequest.from_record(record)
        self._bus.publish(events.ACCESS_REQUEST_CREATED, request.to_json(), user_id=user_id)
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
        await self._check_mcps(request, terms)
        grant = await self._grants.create(request.user_id, request.app, request.app_kind,
                                          request.app_name, terms)
        if not await self._repo.decide(request_id, "approved", grant.id, self._now()):
            await self._grants.revoke(grant.id, caller)
            raise _no_longer_draft(request_id)
        return await self._announce(request_id), grant

    async def _check_mcps(self, request: AppAccessRequest, terms: GrantTerms) -> None:
        if not terms.mcps:
            return
        if self._mcp is None or "mcp" not in terms.scopes:
            raise BadRequestError("MCP instances need the 'mcp' scope in the grant.",
                                  code="invalid_mcp_binding", param="mcps")
        await self._mcp.check_binding(request.user_id, request.requested.mcps, terms.mcps)

    async def deny(self, request_id: str, caller: Principal) -> AppAccessRequest:
        await self._draft(request_id, caller)
        if not await self._repo.decide(request_id, "denied", None, self._now()):
            raise _no_longer_draft(request_id)
        return await self._announce(request_id)

    async def expire_drafts(self) -> int:
        """Mark drafts past their time expired and tell subscribers."""
        expired = await self._repo.expire_drafts(self._now())
        for record in expired:
            request = AppAccessRequest.from_record(record)
            self._bus.publish(events.ACCESS_REQUEST_UPDATED,
                              {**request.update_json(), "status": "expired"},
                              user_id=request.user_id)
        return len(expired)

    async def purge(self, decided_before: int) -> int:
        return await self._repo.purge(decided_before)

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
