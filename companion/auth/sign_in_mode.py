"""Changing how people sign in: for the owner only (``bodhi setup``, or a request proven with
the owner secret, see ``companion.routes.owner_access``).

``plan`` checks a requested choice against the current one and says in words what it would
change; ``apply`` makes it. Beyond the stored choice, a change does this:

- to local mode: nobody but the owner can sign in any more, so the browser sessions of other
  users end at once; their accounts and API tokens stay, and switching back to the same
  provider lets them sign in again;
- to another OIDC provider than the one the users came from: user ids are the provider's
  subjects, and the same subject at another provider may be someone else, so those users are
  removed with their sessions and API tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.auth.principal import OWNER_USER_ID
from companion.auth.sessions import SessionService
from companion.auth.setup import (
    AuthMode,
    OidcConfig,
    SetupService,
    SetupState,
    check_name,
    check_oidc,
)
from companion.auth.users import UserService


@dataclass(frozen=True)
class ModeChange:
    before: SetupState
    mode: AuthMode
    name: str
    oidc: OidcConfig | None
    users_issuer: str | None        # the provider the other users signed in with
    other_users: int
    other_sessions: int

    @property
    def changes_provider(self) -> bool:
        return (self.oidc is not None and self.users_issuer is not None
                and self.oidc.issuer != self.users_issuer)

    @property
    def removes_users(self) -> bool:
        return self.changes_provider and self.other_users > 0

    @property
    def ends_sessions(self) -> bool:
        return self.before.auth_mode is AuthMode.OIDC and self.mode is AuthMode.LOCAL

    @property
    def needs_confirmation(self) -> bool:
        """Who may sign in changes (not just a name or a client secret)."""
        return self.mode is not self.before.auth_mode or self.changes_provider

    def describe(self) -> list[str]:
        lines = self._mode_lines() + self._name_lines()
        return lines or ["Nothing changes."]

    def _mode_lines(self) -> list[str]:
        if self.oidc is not None:
            return self._oidc_lines(self.oidc)
        if not self.ends_sessions:
            return []
        return [f"Sign-in: OpenID Connect through {self.users_issuer} -> only you, the "
                "local owner.",
                f"The {self.other_sessions} open browser session(s) of other users end now. "
                "Their accounts and API tokens stay; they can sign in again if you switch "
                "back to the same provider."]

    def _oidc_lines(self, oidc: OidcConfig) -> list[str]:
        if self.before.auth_mode is AuthMode.LOCAL:
            lines = [f"Sign-in: only you, the local owner -> OpenID Connect through "
                     f"{oidc.issuer} (client {oidc.client_id})."]
        elif self.changes_provider:
            lines = [f"Sign-in provider: {self.users_issuer} -> {oidc.issuer} "
                     f"(client {oidc.client_id})."]
        else:
            lines = [f"OIDC client at {oidc.issuer}: now {oidc.client_id}, with the secret "
                     "given (or none)."]
        if self.removes_users:
            lines.append(f"The {self.other_users} user(s) who signed in through "
                         f"{self.users_issuer} are removed, with their sessions and API "
                         "tokens: another provider's accounts are unrelated.")
        if self.removes_users or not self.other_users:
            lines.append("Anyone with an account there can sign in here; the first to sign "
                         "in becomes an admin, later ones ask for access.")
        elif self.before.auth_mode is AuthMode.LOCAL:
            lines.append(f"The {self.other_users} user(s) who signed in through it before "
                         "can sign in again, with the roles they had.")
        lines.append("You keep signing in as the owner with 'bodhi open'.")
        return lines

    def _name_lines(self) -> list[str]:
        if self.name == self.before.name:
            return []
        return [f"Name: {self.before.name!r} -> {self.name!r}."]


class SignInModes:
    def __init__(self, setup: SetupService, users: UserService,
                 sessions: SessionService) -> None:
        self._setup = setup
        self._users = users
        self._sessions = sessions

    async def plan(self, mode: AuthMode, name: str | None = None,
                   oidc: OidcConfig | None = None) -> ModeChange:
        """What choosing ``mode`` would change (nothing is written); raises on bad input."""
        before = await self._setup.state()
        return ModeChange(
            before, mode, before.name if name is None else check_name(name),
            check_oidc(oidc) if mode is AuthMode.OIDC else None,
            await self._setup.users_issuer(), len(await self._users.others_than_owner()),
            await self._sessions.count_all_but(OWNER_USER_ID))

    async def apply(self, change: ModeChange) -> SetupState:
        if change.removes_users:
            await self._users.remove_all_but_owner()
        if change.ends_sessions:
            await self._sessions.end_all_but(OWNER_USER_ID)
        return await self._setup.save(change.mode, change.name, change.oidc)
