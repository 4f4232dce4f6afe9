"""Opaque secrets we issue (API tokens, session ids, extension credentials, refresh tokens):
how they are made, and what of them is stored.

Only the SHA-256 digest of a secret is stored, plus (for credentials looked up on every
request) a short lookup prefix kept in clear; the whole value is compared as a digest in
constant time. A plain digest is enough for these 256-bit random values: nobody can try enough
candidates to reverse one. Short one-time codes are stored keyed instead
(``companion.core.keyed_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

LOOKUP_CHARS = 8


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def new_secret(prefix: str) -> str:
    """``prefix`` + 43 url-safe characters (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def lookup_key(raw: str, prefix: str) -> str:
    return raw[: len(prefix) + LOOKUP_CHARS]
