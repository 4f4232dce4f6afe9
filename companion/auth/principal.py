"""The resolved caller of one request, and the role ladder.

Every way of calling the companion (session cookie, API token, app token, extension
credential) resolves once, in the auth middleware, into one ``Principal``. Handlers and
services only ever look at the principal, never at headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """``resource_user < resource_power_user < resource_manager < resource_admin``."""

    USER = "resource_user"
    POWER_USER = "resource_power_user"
    MANAGER = "resource_manager"
    ADMIN = "resource_admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.USER: 1, Role.POWER_USER: 2, Role.MANAGER: 3, Role.ADMIN: 4}


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    SESSION = "session"            # a browser session cookie (owner login or OIDC)
    API_TOKEN = "api_token"        # bodhiapp_ user token
    APP_TOKEN = "app_token"        # short-lived JWT issued to an app for a grant
    EXTENSION = "extension"        # the paired browser extension's credential


# The user id of the local owner (local owner mode): the OS user who owns $BODHI_HOME.
OWNER_USER_ID = "owner"

# Scopes an app may hold through a grant (``requestAccess({scopes})``).
APP_SCOPES = frozenset({"chat", "embeddings", "models", "mcp"})


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    # The role this caller acts with: for tokens, capped by the token's scope.
    role: Role | None = None
    user_id: str | None = None
    username: str | None = None
    # API token scopes (scope_token_*) or app scopes (chat, embeddings, models).
    scopes: frozenset[str] = field(default_factory=frozenset)
    # The API token id, or the app grant id for app tokens.
    token_id: str | None = None
    # Models this caller may use; ``None`` means every model.
    models: frozenset[str] | None = None
    # The app's origin (browser pages) or OAuth client id, for app tokens.
    app: str | None = None
    # The user's MCP instances this caller may use; ``None`` means every one of them.
    # Fails closed: only a session (and a token or grant that says so) reaches any.
    mcps: frozenset[str] | None = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.kind is not PrincipalKind.ANONYMOUS

    def has_role(self, role: Role) -> bool:
        return self.role is not None and self.role.at_least(role)

    def may_use_model(self, model: str) -> bool:
        return self.models is None or model in self.models

    def may_use_mcp(self, instance_id: str) -> bool:
        return self.mcps is None or instance_id in self.mcps

    def has_app_scope(self, scope: str) -> bool:
        """App tokens carry app scopes; every other authenticated caller has them all."""
        if self.kind is PrincipalKind.APP_TOKEN:
            return scope in self.scopes
        return self.is_authenticated


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)
