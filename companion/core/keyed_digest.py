"""Keyed digests of short one-time secrets: pairing codes, owner-login tickets, OAuth codes.

A pairing code carries about 40 bits. Stored as a bare SHA-256, anyone who reads the digest
can try every code offline well within its 5 minutes. So these secrets are stored as
HMAC-SHA256 under a random key in ``$BODHI_HOME/digest.key`` (mode 0600, created once): the
CLI, the native host and the server all run as the owner and read the same key, and a digest
without the key is worth nothing. Owner-login tickets and OAuth authorization codes are long,
but they are one-time codes of the same kind and are stored the same way.

Long random secrets (API tokens, extension credentials, refresh tokens, session ids: 256
bits) stay plain SHA-256: nobody can enumerate their space, and their digests must keep
matching even if the key file is lost.

Digests stored by versions before this one no longer match: the codes, tickets and OAuth
codes that were open at the upgrade (they live 60 seconds to 5 minutes) stop working; issue
new ones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from companion.core.errors import ConfigError
from companion.core.home import private_file

DIGEST_KEY_FILE = "digest.key"
KEY_BYTES = 32


class KeyedDigest:
    """HMAC-SHA256 of a secret under the home's key; ``purpose`` keeps kinds apart."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a digest key is {KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def for_home(cls, home: Path) -> KeyedDigest:
        path = home / DIGEST_KEY_FILE
        key = private_file(path, lambda: secrets.token_bytes(KEY_BYTES))
        if len(key) != KEY_BYTES:
            # Only one-time codes depend on it: a new key costs nothing but the open ones.
            raise ConfigError(f"{path} does not hold a {KEY_BYTES}-byte key; delete it and "
                              "start again (open pairing codes and login links stop working).")
        return cls(key)

    def of(self, purpose: str, secret: str) -> str:
        message = f"{purpose}\x00{secret}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
