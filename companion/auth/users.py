"""Users, roles and access requests.

In OIDC mode the first user to sign in becomes ``resource_admin``; later users start without
a role and ask for access. Managers and admins approve (with a role no higher than their
own) or reject, change roles and remove users; managers never touch admins, nobody changes
their own role, and the local owner is always an admin. A role change or removal ends that
user's sessions and drops cached tokens at once. A new request, and each decision, is
published on the event bus for managers and admins (``user_access_request.*``; the decision
also to the user who asked).
"""

from __future__ import annotations

import dataclasses
import time

from companion.auth.principal import OWNER_USER_ID, Principal, Role
from companion.auth.sessions import SessionService
from companion.auth.tokens import ApiTokenService
from companion.core import events
from companion.core.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from companion.core.events import EventBus
from companion.storage import (
    ApiTokenRepository,
    RoleRequestRecord,
    RoleRequestRepository,
    UserRecord,
    UserRepository,
)


def _role(record: UserRecord) -> Role | None:
    return Role(record.role) if record.role else None


class UserService:
    def __init__(self, users: UserRepository, requests: RoleRequestRepository,
                 sessions: SessionService, tokens: ApiTokenService,
                 token_repo: ApiTokenRepository, bus: EventBus | None = None) -> None:
        self._users = users
        self._requests = requests
        self._sessions = sessions
        self._tokens = tokens
        self._token_repo = token_repo
        # Without a bus (the CLI) nobody listens: publishing to a private one is a no-op.
        self._bus = bus or EventBus()

    async def sign_in(self, user_id: str, username: str, email: str | None) -> UserRecord:
        """Record an OIDC sign-in; the very first user becomes admin."""
        return await self._users.upsert_login(user_id, username, email, int(time.time()),
                                              Role.ADMIN.value)

    async def request_access(self, caller: Principal) -> RoleRequestRecord:
        user_id = _user_id(caller)
        if caller.role is not None:
            raise BadRequestError("You already have access.", code="access_request-has_role")
        latest = await self._requests.latest_for_user(user_id)
        if latest is not None and latest.status == "pending":
            return latest
        created = await self._requests.create(user_id, caller.username or user_id,
                                              int(time.time()))
        self._bus.publish(events.USER_REQUEST_CREATED, dataclasses.asdict(created),
                          audience=events.MANAGERS)
        return created

    async def request_status(self, caller: Principal) -> RoleRequestRecord:
        latest = await self._requests.latest_for_user(_user_id(caller))
        if latest is None:
            raise NotFoundError("No access request.", code="db_error-item_not_found")
        return latest

    async def list_requests(self, pending_only: bool, limit: int, offset: int
                            ) -> tuple[list[RoleRequestRecord], int]:
        return await self._requests.list(pending_only, limit, offset)

    async def approve(self, request_id: int, role: Role, approver: Principal
                      ) -> RoleRequestRecord:
        _may_grant(approver, role)
        request = await self._pending(request_id)
        now = int(time.time())
        if not await self._requests.decide(request_id, "approved", role.value,
                                           _user_id(approver), now):
            raise ConflictError("The request was already decided.", code="access_request-done")
        await self._users.set_role(request.user_id, role.value, now)
        # Approval grants a first role: the user's open sessions gain it at once.
        await self._sessions.set_role_for_user(request.user_id, role)
        self._tokens.invalidate()
        return self._decided(await self._get_request(request_id))

    async def reject(self, request_id: int, reviewer: Principal) -> RoleRequestRecord:
        await self._pending(request_id)
        if not await self._requests.decide(request_id, "rejected", None, _user_id(reviewer),
                                           int(time.time())):
            raise ConflictError("The request was already decided.", code="access_request-done")
        return self._decided(await self._get_request(request_id))

    def _decided(self, record: RoleRequestRecord) -> RoleRequestRecord:
        self._bus.publish(events.USER_REQUEST_UPDATED, dataclasses.asdict(record),
                          user_id=record.user_id, audience=events.MANAGERS)
        return record

    async def current_role(self, user_id: str) -> Role | None:
        """The user's role as stored now (the local owner is always an admin)."""
        if user_id == OWNER_USER_ID:
            return Role.ADMIN
        record = await self._users.get(user_id)
        return None if record is None else _role(record)

    async def list_users(self, limit: int, offset: int) -> tuple[list[UserRecord], int]:
        return await self._users.list(limit, offset)

    async def change_role(self, user_id: str, role: Role, actor: Principal) -> UserRecord:
        await self._may_manage(user_id, actor)
        _may_grant(actor, role)
        await self._users.set_role(user_id, role.value, int(time.time()))
        await self._sessions.end_for_user(user_id)
        self._tokens.invalidate()
        return await self._get_user(user_id)

    async def remove(self, user_id: str, actor: Principal) -> None:
        await self._may_manage(user_id, actor)
        await self._drop(user_id)

    async def others_than_owner(self) -> tuple[str, ...]:
        return await self._users.ids_but(OWNER_USER_ID)

    async def remove_all_but_owner(self) -> int:
        """Everyone but the owner, with their sessions and tokens (a change of provider)."""
        others = await self.others_than_owner()
        for user_id in others:
            await self._drop(user_id)
        return len(others)

    async def _drop(self, user_id: str) -> None:
        await self._users.delete(user_id)
        await self._token_repo.delete_for_user(user_id)
        await self._sessions.end_for_user(user_id)
        self._tokens.invalidate()

    async def _may_manage(self, user_id: str, actor: Principal) -> None:
        target = await self._get_user(user_id)
        if user_id == OWNER_USER_ID:
            raise ForbiddenError("The local owner is always an admin.", code="user_error-owner")
        if user_id == actor.user_id:
            raise BadRequestError("You cannot change your own role or remove yourself.",
                                  code="user_error-self")
        target_role = _role(target)
        if target_role is not None and not _outranks_or_admin(actor, target_role):
            raise ForbiddenError(f"A {_name(actor)} cannot change a {target_role.value}.",
                                 code="user_error-insufficient_role")

    async def _get_user(self, user_id: str) -> UserRecord:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFoundError(f"No user with id {user_id}.", code="db_error-item_not_found")
        return user

    async def _get_request(self, request_id: int) -> RoleRequestRecord:
        request = await self._requests.get(request_id)
        if request is None:
            raise NotFoundError(f"No access request with id {request_id}.",
                                code="db_error-item_not_found")
        return request

    async def _pending(self, request_id: int) -> RoleRequestRecord:
        request = await self._get_request(request_id)
        if request.status != "pending":
            raise ConflictError("The request was already decided.", code="access_request-done")
        return request


def _user_id(caller: Principal) -> str:
    if caller.user_id is None:
        raise ForbiddenError("This needs a signed-in user.", code="auth_error-no_user")
    return caller.user_id


def _name(actor: Principal) -> str:
    return actor.role.value if actor.role else "user without a role"


def _outranks_or_admin(actor: Principal, target: Role) -> bool:
    """Admins manage everyone; managers manage anyone below admin."""
    return actor.has_role(Role.ADMIN) or (actor.has_role(Role.MANAGER)
                                          and target is not Role.ADMIN)


def _may_grant(actor: Principal, role: Role) -> None:
    if not actor.has_role(role):
        raise ForbiddenError(f"A {_name(actor)} cannot grant {role.value}.",
                             code="user_error-role_too_high", param="role")
