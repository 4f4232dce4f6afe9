"""The companion's side of the owner proof (``companion.core.owner_proof``).

``challenge`` answers a client nonce with a fresh server nonce and the companion's proof;
``verify`` accepts one request proven over an open server nonce, and uses that nonce up
whether or not the proof is right. Open nonces live ``NONCE_TTL_SECS`` in memory only (a
restart forgets them; clients simply ask again), and at most ``MAX_OPEN_NONCES`` are kept, the
oldest dropped first, so anyone asking for challenges cannot grow the companion's memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from companion.core.errors import AuthenticationError, BadRequestError
from companion.core.owner_proof import (
    NONCE_TTL_SECS,
    companion_proof,
    is_nonce,
    new_nonce,
    owner_proof,
    same_proof,
)

MAX_OPEN_NONCES = 1024


@dataclass(frozen=True)
class Challenge:
    server_nonce: str
    proof: str
    expires_in: int


def _refused() -> AuthenticationError:
    return AuthenticationError(
        "This request needs the owner's proof: ask POST /bodhi/v1/owner/challenge for a "
        "nonce, then sign the request with the owner secret (see docs/identity.md).",
        code="auth_error-owner_proof_invalid")


class OwnerChallenges:
    def __init__(self, secret: str, url: str, ttl_secs: float = NONCE_TTL_SECS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._secret = secret
        self._url = url
        self._ttl = ttl_secs
        self._clock = clock
        self._open: dict[str, float] = {}        # server nonce -> expiry, oldest first

    def challenge(self, client_nonce: str) -> Challenge:
        if not is_nonce(client_nonce):
            raise BadRequestError("client_nonce must be 22 to 128 url-safe characters",
                                  code="invalid_value", param="client_nonce")
        self._prune()
        server_nonce = new_nonce()
        self._open[server_nonce] = self._clock() + self._ttl
        return Challenge(server_nonce,
                         companion_proof(self._secret, self._url, client_nonce, server_nonce),
                         int(self._ttl))

    def verify(self, server_nonce: str, proof: str, method: str, path: str,
               body: bytes) -> None:
        """Accept one request proven with the owner secret; raises otherwise."""
        expires = self._open.pop(server_nonce, None)
        if expires is None or expires < self._clock():
            raise _refused()
        expected = owner_proof(self._secret, self._url, server_nonce, method, path, body)
        if not same_proof(expected, proof):
            raise _refused()

    def _prune(self) -> None:
        now = self._clock()
        for nonce in [n for n, expires in self._open.items() if expires < now]:
            del self._open[nonce]
        while len(self._open) >= MAX_OPEN_NONCES:
            del self._open[next(iter(self._open))]
