"""Browser sessions: random ids in a cookie, stored as SHA-256 in ``session.sqlite``.

A session belongs to one user and carries the role it acts with. Sessions of OIDC users
also hold the provider's refresh token: when the provider's access token has expired, the
next request refreshes it, and a refused refresh ends the session. Refresh tokens are
stored sealed with the ``SecretBox``, bound to their session row.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core.opaque_secrets import digest
from companion.core.secrets_box import SecretBox, SecretKeyError, is_sealed
from companion.storage import SessionRecord, SessionRepository

SESSION_COOKIE = "bodhiapp_session_id"
SESSION_TTL_SECS = 7 * 24 * 3600

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderTokens:
    refresh_token: str | None
    access_expires_at: int | None


# Refresh a provider session: new tokens, or None when the provider refuses (session over).
Refresher = Callable[[str], Awaitable[ProviderTokens | None]]


def _purpose(id_hash: str) -> str:
    return f"session_refresh_token:{id_hash}"


class SessionService:
    def __init__(self, repo: SessionRepository, box: SecretBox) -> None:
        self._repo = repo
        self._box = box
        self.refresher: Refresher | None = None

    def _seal(self, id_hash: str, refresh_token: str | None) -> str | None:
        return None if refresh_token is None else self._box.seal(refresh_token,
                                                                 _purpose(id_hash))

    async def start(self, user_id: str, username: str, role: Role | None,
                    tokens: ProviderTokens | None = None) -> str:
        """A new session id (always new at login, so a planted id is worthless)."""
        session_id = secrets.token_urlsafe(32)
        now, id_hash = int(time.time()), digest(session_id)
        await self._repo.prune(now)
        await self._repo.insert(SessionRecord(
            id_hash, user_id, username, role.value if role else None, now,
            now + SESSION_TTL_SECS, self._seal(id_hash, tokens.refresh_token if tokens else None),
            tokens.access_expires_at if tokens else None))
        return session_id

    async def principal(self, session_id: str) -> Principal | None:
        """The caller behind a session cookie; None when the session is unknown or over."""
        id_hash = digest(session_id)
        record = await self._repo.get(id_hash)
        now = int(time.time())
        if record is None or record.expires_at <= now:
            return None
        if record.access_expires_at is not None and record.access_expires_at <= now \
                and not await self._refresh(record):
            return None
        return Principal(PrincipalKind.SESSION, role=Role(record.role) if record.role else None,
                         user_id=record.user_id, username=record.username, mcps=None)

    async def _refresh(self, record: SessionRecord) -> bool:
        if self.refresher is None or record.refresh_token is None:
            await self._repo.delete(record.id_hash)
            return False
        try:
            refresh_token = self._box.open(record.refresh_token, _purpose(record.id_hash))
        except SecretKeyError:
            # Logged once at startup; this session cannot be refreshed, so it ends.
            await self._repo.delete(record.id_hash)
            return False
        try:
            tokens = await self.refresher(refresh_token)
        except Exception as exc:
            # The provider is unreachable: keep the session rather than log everyone out.
            log.warning("could not refresh a session with the identity provider: %s",
                        type(exc).__name__)
            return True
        if tokens is None:
            await self._repo.delete(record.id_hash)
            return False
        await self._repo.update_tokens(
            record.id_hash, self._seal(record.id_hash, tokens.refresh_token or refresh_token),
            tokens.access_expires_at)
        return True

    async def seal_plaintext(self) -> int:
        """Forward-only migration: seal refresh tokens stored in clear by older versions."""
        found = await self._repo.refresh_tokens()
        clear = {h: t for h, t in found.items() if not is_sealed(t)}
        for id_hash, token in clear.items():
            await self._repo.set_refresh_token(id_hash, self._seal(id_hash, token))
        return len(clear)

    async def end(self, session_id: str) -> None:
        await self._repo.delete(digest(session_id))

    async def end_for_user(self, user_id: str) -> None:
        await self._repo.delete_for_user(user_id)

    async def end_all_but(self, user_id: str) -> int:
        return await self._repo.delete_all_but(user_id)

    async def count_all_but(self, user_id: str) -> int:
        return await self._repo.count_all_but(user_id, int(time.time()))

    async def set_role_for_user(self, user_id: str, role: Role | None) -> None:
        await self._repo.set_role_for_user(user_id, role.value if role else None)
