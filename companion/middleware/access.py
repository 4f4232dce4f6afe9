"""What each route needs from its caller, declared on the handler.

    @public                                   anyone, credentials not even looked at
    @optional_auth                            anyone; a caller who sends credentials is resolved
    @requires(Role.USER)                      role >= user, by session, API token or app token
    @requires(Role.POWER_USER, session_only=True)     role >= power user, browser session only
    @requires(Role.USER, app_scope="chat")    app tokens also need the app scope ``chat``
    @requires(kinds={PrincipalKind.EXTENSION, PrincipalKind.SESSION})   only these kinds
    @requires(Role.POWER_USER, all_models=True)   not a token limited to some models

A handler without a declaration needs an authenticated caller with role >= user, so a
forgotten decorator fails closed. The auth middleware enforces the rule (see ``check``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.abc import AbstractMatchInfo

from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core.errors import AuthenticationError, ForbiddenError

_ATTR = "__bodhi_access__"

H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class AccessRule:
    resolve: bool = True                           # look at credentials at all
    anonymous_ok: bool = False
    role: Role | None = Role.USER
    kinds: frozenset[PrincipalKind] | None = None  # None: any authenticated kind
    app_scope: str | None = None
    # Routes that manage or describe the whole catalog (aliases, files, downloads, metrics)
    # would show a model-limited credential the models outside its grant.
    all_models: bool = False


DEFAULT_RULE = AccessRule()
PUBLIC_RULE = AccessRule(resolve=False, anonymous_ok=True, role=None)
OPTIONAL_RULE = AccessRule(anonymous_ok=True, role=None)


def _declare(rule: AccessRule) -> Callable[[H], H]:
    def mark(handler: H) -> H:
        setattr(handler, _ATTR, rule)
        return handler

    return mark


def public(handler: H) -> H:
    return _declare(PUBLIC_RULE)(handler)


def optional_auth(handler: H) -> H:
    return _declare(OPTIONAL_RULE)(handler)


def requires(role: Role | None = Role.USER, *, session_only: bool = False,
             kinds: Collection[PrincipalKind] | None = None,
             app_scope: str | None = None, all_models: bool = False) -> Callable[[H], H]:
    allowed = frozenset({PrincipalKind.SESSION}) if session_only else (
        frozenset(kinds) if kinds is not None else None)
    return _declare(AccessRule(role=role, kinds=allowed, app_scope=app_scope,
                               all_models=all_models))


def rule_for(request: web.Request) -> AccessRule:
    return rule_for_match(request.match_info)


def rule_for_match(match: AbstractMatchInfo) -> AccessRule:
    refusal = match.http_exception
    if refusal is not None:
        # Only a caller who may use the API learns which paths do not exist; a wrong method
        # on a real route is answered (405) for anyone.
        return PUBLIC_RULE if refusal.status == 405 else DEFAULT_RULE
    return rule_for_handler(match.handler)


def rule_for_handler(handler: object) -> AccessRule:
    return getattr(handler, _ATTR, DEFAULT_RULE)


def session_only(rule: AccessRule) -> bool:
    return rule.kinds == frozenset({PrincipalKind.SESSION})


def check(rule: AccessRule, principal: Principal,
          credential_places: str = "'Authorization: Bearer <token>'") -> None:
    """Raise 401 for a missing or wrong kind of credential, 403 for too little of it.
    ``credential_places``: where the caller's API family sends a token, for the message."""
    if not principal.is_authenticated:
        if rule.anonymous_ok:
            return
        if session_only(rule):
            raise AuthenticationError("Sign in first: this endpoint needs a browser session.",
                                      code="auth_error-missing_session")
        raise AuthenticationError("Authentication required: send an API token as "
                                  f"{credential_places}.",
                                  code="auth_error-missing_token")
    if rule.kinds is not None and principal.kind not in rule.kinds:
        needed = " or ".join(sorted(k.value.replace("_", " ") for k in rule.kinds))
        raise AuthenticationError(f"This endpoint needs a {needed}; "
                                  f"a {principal.kind.value.replace('_', ' ')} is not accepted.",
                                  code="auth_error-wrong_credential_kind")
    if rule.app_scope is not None and not principal.has_app_scope(rule.app_scope):
        raise ForbiddenError(f"This app has not been granted the '{rule.app_scope}' scope.",
                             code="auth_error-missing_scope")
    if rule.role is not None and not principal.has_role(rule.role):
        raise ForbiddenError(f"This needs the role {rule.role.value} or higher.",
                             code="auth_error-insufficient_role")
    if rule.all_models and principal.models is not None:
        raise ForbiddenError("This credential is limited to some models; this endpoint needs "
                             "one that may use every model.", code="auth_error-models_limited")
