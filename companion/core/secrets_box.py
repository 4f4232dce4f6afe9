"""Secrets at rest: AES-256-GCM over values the companion must be able to read back.

Stored secrets that are *used* rather than compared (the OIDC client secret, the provider
refresh tokens of sessions, later remote-provider API keys) are sealed before they reach a
database. A sealed value reads ``bodhienc:v1:<base64url(nonce | ciphertext | tag)>``:

* a fresh random 96-bit nonce per value;
* the associated data names the value's purpose and row (``app_state:oidc_client_secret``,
  ``session_refresh_token:<id hash>``), so a sealed value copied into another row or column
  does not open;
* ``v1`` leaves room for another algorithm or key later.

The key comes from ``BODHI_ENCRYPTION_KEY`` when set: 32 bytes in base64 (standard or
url-safe) are used as they are; any other value is a passphrase stretched with scrypt
(salt in ``$BODHI_HOME/encryption.salt``). Otherwise a random key is generated once in
``$BODHI_HOME/encryption.key`` (mode 0600). A value sealed under a check label in the
database tells at startup whether the key is the one the secrets were sealed with; when it
is not, the box refuses to seal or open anything, with an error that says what to do, and the
rest of the companion keeps serving.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from companion.core.errors import ConfigError, ServiceUnavailableError
from companion.core.home import private_file

PREFIX = "bodhienc:v1:"
KEY_FILE = "encryption.key"
SALT_FILE = "encryption.salt"
KEY_BYTES = 32
NONCE_BYTES = 12
MIN_PASSPHRASE_CHARS = 12
# scrypt cost: about 32 MiB and a few tenths of a second, once per process start.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
KEY_CHECK_PURPOSE = "key_check"
_KEY_CHECK_TEXT = "bodhi-encryption-key-check"

log = logging.getLogger(__name__)

WRONG_KEY_MESSAGE = (
    "Stored secrets cannot be decrypted: the encryption key (BODHI_ENCRYPTION_KEY, or "
    "$BODHI_HOME/encryption.key when it is unset) is not the one they were encrypted with. "
    "Restore the original key and restart; see docs/security.md.")


class SecretKeyError(ServiceUnavailableError):
    """The key does not open the stored secrets (or a sealed value was tampered with)."""

    code = "crypto_error-wrong_key"


class SecretBox:
    """Seal and open strings with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("an AES-256 key is 32 bytes")
        self._aead = AESGCM(key)
        self._refused: str | None = None

    @property
    def usable(self) -> bool:
        return self._refused is None

    def refuse(self, reason: str) -> None:
        """Stop sealing and opening: mixing keys in one database would lose secrets."""
        self._refused = reason

    def seal(self, plaintext: str, purpose: str) -> str:
        self._check_usable()
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _aad(purpose))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")

    def open(self, value: str, purpose: str) -> str:
        """The plaintext of a sealed ``value``; a legacy plaintext value is returned as is."""
        if not is_sealed(value):
            return value
        self._check_usable()
        try:
            raw = base64.urlsafe_b64decode(_padded(value[len(PREFIX):]))
            opened = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(purpose))
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SecretKeyError(WRONG_KEY_MESSAGE) from exc
        return opened.decode("utf-8")

    def _check_usable(self) -> None:
        if self._refused is not None:
            raise SecretKeyError(self._refused)


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def _aad(purpose: str) -> bytes:
    return f"bodhi-secret:v1:{purpose}".encode()


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def key_from_setting(value: str, home: Path) -> bytes:
    """``BODHI_ENCRYPTION_KEY``: a base64 32-byte key, or a passphrase for scrypt."""
    raw = _decode_key(value.strip())
    if raw is not None:
        return raw
    if len(value) < MIN_PASSPHRASE_CHARS:
        raise ConfigError("BODHI_ENCRYPTION_KEY must be a base64-encoded 32-byte key or a "
                          f"passphrase of at least {MIN_PASSPHRASE_CHARS} characters.")
    salt = private_file(home / SALT_FILE, lambda: secrets.token_bytes(16))
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return kdf.derive(value.encode("utf-8"))


def _decode_key(text: str) -> bytes | None:
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(_padded(text))
        except (binascii.Error, ValueError):
            continue
        if len(raw) == KEY_BYTES:
            return raw
    return None


def key_from_file(home: Path) -> bytes:
    """The generated key in ``$BODHI_HOME/encryption.key``, created on first use."""
    stored = private_file(home / KEY_FILE, lambda: base64.b64encode(
        secrets.token_bytes(KEY_BYTES)) + b"\n")
    key = _decode_key(stored.decode("ascii", "replace").strip())
    if key is None:
        raise ConfigError(f"{home / KEY_FILE} does not hold a base64-encoded 32-byte key.")
    return key


def load_box(home: Path, setting: str) -> SecretBox:
    """The box for ``$BODHI_HOME``: ``setting`` is ``BODHI_ENCRYPTION_KEY`` ('' when unset)."""
    return SecretBox(key_from_setting(setting, home) if setting else key_from_file(home))


def check_label(box: SecretBox, stored: str | None) -> str | None:
    """Compare the key with the check value kept in the database.

    Returns a new check value to store when there is none yet; refuses the box (and logs
    why, once) when the stored check does not open.
    """
    if stored is None:
        return box.seal(_KEY_CHECK_TEXT, KEY_CHECK_PURPOSE)
    try:
        box.open(stored, KEY_CHECK_PURPOSE)
    except SecretKeyError:
        log.error("%s", WRONG_KEY_MESSAGE)
        box.refuse(WRONG_KEY_MESSAGE)
    return None
