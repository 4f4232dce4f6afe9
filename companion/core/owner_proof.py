"""Owner proof: both sides show they hold the owner secret without ever sending it.

The companion and the programs of the OS user who owns ``$BODHI_HOME`` (the native host, the
CLI, the owner's scripts) all can read ``owner.secret``. The exchange is mutual:

1. the client sends a fresh *client nonce* to ``POST /bodhi/v1/owner/challenge``;
2. the companion answers with a fresh *server nonce* and
   ``HMAC(secret, ["companion", url, client_nonce, server_nonce])``; the client checks it, so
   it knows it talks to the real companion before it sends anything that matters;
3. the client sends its request with the server nonce and
   ``HMAC(secret, ["owner", url, server_nonce, method, path, sha256(body)])``; the companion
   accepts each server nonce once, within ``NONCE_TTL_SECS``.

``url`` is the companion's own public URL in both messages, so a program squatting on the port
cannot relay the exchange to a companion listening elsewhere. The messages are canonical JSON
arrays, so no field can bleed into the next.

Pure functions over strings and bytes, shared by the companion and the native host; no web
framework here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets

CHALLENGE_PATH = "/bodhi/v1/owner/challenge"
NONCE_HEADER = "X-Bodhi-Owner-Nonce"
PROOF_HEADER = "X-Bodhi-Owner-Proof"
NONCE_TTL_SECS = 30

_NONCE = re.compile(r"^[A-Za-z0-9_-]{22,128}$")


def new_nonce() -> str:
    """256 random bits, url-safe."""
    return secrets.token_urlsafe(32)


def is_nonce(value: object) -> bool:
    return isinstance(value, str) and _NONCE.match(value) is not None


def _mac(secret: str, parts: list[str]) -> str:
    message = json.dumps(parts, separators=(",", ":")).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def companion_proof(secret: str, url: str, client_nonce: str, server_nonce: str) -> str:
    """What the companion answers to a challenge: proof that it holds the secret."""
    return _mac(secret, ["companion", url, client_nonce, server_nonce])


def owner_proof(secret: str, url: str, server_nonce: str, method: str, path: str,
                body: bytes) -> str:
    """What the owner's program sends with one request: bound to its method, path and body."""
    return _mac(secret, ["owner", url, server_nonce, method.upper(), path,
                         hashlib.sha256(body).hexdigest()])


def same_proof(expected: str, given: object) -> bool:
    """Constant-time comparison; anything but a string is simply wrong."""
    return isinstance(given, str) and hmac.compare_digest(expected.encode("utf-8"),
                                                          given.encode("utf-8"))


def owner_headers(secret: str, url: str, server_nonce: str, method: str, path: str,
                  body: bytes) -> dict[str, str]:
    return {NONCE_HEADER: server_nonce,
            PROOF_HEADER: owner_proof(secret, url, server_nonce, method, path, body)}
