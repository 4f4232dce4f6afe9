"""The paired browser extension: its credential and the one-time pairing codes.

The extension proves itself with ``bodhiext_<43 url-safe chars>``, issued either by the
native-messaging host (as the OS user, proven by the owner secret: ``routes/owner.py``) or in
exchange for a short code printed by ``bodhi pair``. Only this credential may create access
requests for browser origins.

Pairing codes carry about 40 bits and the pairing endpoint is public, so guessing is bounded:
guesses are judged one at a time, and the ``MAX_PAIRING_FAILURES``-th wrong one since the last
successful pairing cancels every open code, so no more guesses than that are judged while a
code is open, however many arrive at once. Each refusal says how many guesses are left
(``tries_left``) and, at the last, that the open codes were cancelled (``codes_cancelled``).
(Web pages cannot send guesses at all: the route refuses them first.) Codes are stored as
keyed digests (``companion.core.keyed_digest``), so a digest read from the database cannot be
reversed by trying every code.

Validated credentials are cached in memory; the cache is dropped on any change here and
whenever another process commits to the database (``ChangeWatch``), so a revoke from the CLI
is honoured on the server's very next request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from companion.auth.principal import OWNER_USER_ID, Principal, PrincipalKind, Role
from companion.core.errors import AuthenticationError, BadRequestError, NotFoundError
from companion.core.keyed_digest import KeyedDigest
from companion.core.opaque_secrets import digest, lookup_key, new_secret, same_digest
from companion.storage import ChangeWatch
from companion.storage.extension import (
    ExtensionCredentialRecord,
    ExtensionRepository,
    PairingCodeRecord,
)

CREDENTIAL_PREFIX = "bodhiext_"
PAIRING_CODE_TTL_SECS = 300
# No 0/O, 1/I/L: codes are read off a terminal and typed into a popup.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE_CHARS = 8
MAX_PAIRING_FAILURES = 10
PAIRING_DIGEST = "pairing_code"

log = logging.getLogger(__name__)

# Which role a user acts with; ``None`` for an unknown (removed) user.
RoleLookup = Callable[[str], Awaitable[Role | None]]


async def owner_only_roles(user_id: str) -> Role | None:
    """Local owner mode: the owner is the only user, and an admin."""
    return Role.ADMIN if user_id == OWNER_USER_ID else None


@dataclass(frozen=True)
class ExtensionCredential:
    id: str
    user_id: str
    extension_id: str
    browser: str
    active: bool
    created_at: int
    last_used_at: int | None

    @classmethod
    def from_record(cls, r: ExtensionCredentialRecord) -> ExtensionCredential:
        return cls(r.id, r.user_id, r.extension_id, r.browser, r.status == "active",
                   r.created_at, r.last_used_at)


def normalise_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def _format_code(chars: str) -> str:
    return f"{chars[:4]}-{chars[4:]}"


class ExtensionService:
    def __init__(self, repo: ExtensionRepository, codes: KeyedDigest,
                 watch: ChangeWatch | None = None, roles: RoleLookup = owner_only_roles) -> None:
        self._repo = repo
        self._codes = codes
        self._watch = watch
        self._roles = roles
        self._valid: dict[str, ExtensionCredential] = {}
        self._last_used: dict[str, int] = {}
        self._pairing_failures = 0
        # Judging a guess and counting it must be one step: otherwise a burst of guesses is
        # judged while the count still reads low (each waits on the database in between).
        self._judging = asyncio.Lock()

    async def issue(self, user_id: str, extension_id: str, browser: str
                    ) -> tuple[ExtensionCredential, str]:
        extension_id, browser = extension_id.strip()[:200], browser.strip()[:50]
        raw = new_secret(CREDENTIAL_PREFIX)
        record = ExtensionCredentialRecord(
            str(uuid.uuid4()), user_id, extension_id or "unknown", browser or "unknown",
            lookup_key(raw, CREDENTIAL_PREFIX), digest(raw), "active", int(time.time()), None)
        await self._repo.insert_credential(record)
        self._valid.clear()
        return ExtensionCredential.from_record(record), raw

    async def new_pairing_code(self, user_id: str, ttl_secs: int = PAIRING_CODE_TTL_SECS
                               ) -> str:
        chars = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_CHARS))
        now = int(time.time())
        await self._repo.insert_code(PairingCodeRecord(
            self._codes.of(PAIRING_DIGEST, chars), user_id, now, now + ttl_secs, None))
        return _format_code(chars)

    async def redeem(self, code: str, extension_id: str, browser: str) -> str:
        """Exchange a pairing code (single use) for a new credential."""
        async with self._judging:
            used = await self._repo.use_code(
                self._codes.of(PAIRING_DIGEST, normalise_code(code)), int(time.time()))
            if used is None:
                raise await self._count_failure()
            self._pairing_failures = 0
        _, raw = await self.issue(used.user_id, extension_id, browser)
        return raw

    async def _count_failure(self) -> BadRequestError:
        """Count a wrong guess (under ``_judging``); the last one allowed cancels every code.
        The refusal tells how many guesses are left (``tries_left``), so a typo is not a
        mystery and the cancellation does not come as a surprise."""
        self._pairing_failures += 1
        tries_left = MAX_PAIRING_FAILURES - self._pairing_failures
        if tries_left > 0:
            tries = "1 try" if tries_left == 1 else f"{tries_left} tries"
            return BadRequestError(
                f"This pairing code is wrong, expired or already used; {tries} left before "
                "every open code is cancelled. Run 'bodhi pair' for a new one if it expired.",
                code="pairing_code_invalid", param="code",
                details={"tries_left": tries_left, "codes_cancelled": False})
        self._pairing_failures = 0
        burned = await self._repo.burn_codes(int(time.time()))
        log.warning("%d wrong pairing codes: cancelled %d open code(s)", MAX_PAIRING_FAILURES,
                    burned)
        return BadRequestError(
            f"That was the {MAX_PAIRING_FAILURES}th wrong pairing code: every open code was "
            "cancelled. Run 'bodhi pair' again for a new one.",
            code="pairing_code_invalid", param="code",
            details={"tries_left": 0, "codes_cancelled": True})

    async def purge_codes(self, now: int) -> int:
        """Delete expired pairing codes; how many."""
        return await self._repo.purge_codes(now)

    async def list(self) -> list[ExtensionCredential]:
        return [ExtensionCredential.from_record(r) for r in await self._repo.list_credentials()]

    async def revoke(self, credential_id: str) -> None:
        if not await self._repo.revoke_credential(credential_id):
            raise NotFoundError(f"no extension credential with id {credential_id}",
                                code="db_error-item_not_found")
        self._valid.clear()

    async def flush_last_used(self) -> None:
        if self._last_used:
            used, self._last_used = self._last_used, {}
            await self._repo.touch_credentials(used)

    async def verify(self, raw: str) -> Principal | None:
        """``None`` when ``raw`` is not an extension credential; raises when it is but bad."""
        if not raw.startswith(CREDENTIAL_PREFIX):
            return None
        credential = await self._lookup(raw)
        role = await self._roles(credential.user_id)
        if role is None:
            raise AuthenticationError("The user this extension was paired for is gone.",
                                      code="auth_error-invalid_token")
        self._last_used[credential.id] = int(time.time())
        return Principal(PrincipalKind.EXTENSION, role=role, user_id=credential.user_id,
                         token_id=credential.id)

    async def _lookup(self, raw: str) -> ExtensionCredential:
        if self._watch is not None and self._watch.changed():
            self._valid.clear()
        hashed = digest(raw)
        cached = self._valid.get(hashed)
        if cached is not None:
            return cached
        for record in await self._repo.find_credentials(lookup_key(raw, CREDENTIAL_PREFIX)):
            if same_digest(record.token_hash, hashed):
                if record.status != "active":
                    raise AuthenticationError("This extension credential was revoked; pair "
                                              "the extension again.",
                                              code="auth_error-token_inactive")
                credential = ExtensionCredential.from_record(record)
                self._valid[hashed] = credential
                return credential
        raise AuthenticationError("Extension credential is not valid.",
                                  code="auth_error-invalid_token")
