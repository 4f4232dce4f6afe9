"""Short one-time secrets are stored keyed (HMAC-SHA256 under ``$BODHI_HOME/digest.key``).

The attack: someone who can read the database takes a stored digest and hashes candidate
codes offline until one matches. Without the key even the right candidate does not match.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from companion.access.extension import PAIRING_DIGEST, normalise_code
from companion.auth.owner_login import TICKET_DIGEST, issue_ticket, redeem_ticket
from companion.auth.principal import OWNER_USER_ID
from companion.core.keyed_digest import DIGEST_KEY_FILE, KeyedDigest
from companion.storage import Database
from tests.unit.apps_harness import Harness, harness

__all__ = ["harness"]

_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stored(db_path: Path, sql: str) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return [row[0] for row in conn.execute(sql)]


def offline_guesses(right: str, wrong: int = 2000) -> list[str]:
    """The attacker's candidates, the right one among them (a real search tries all 31^8)."""
    return [*("".join(secrets.choice(_ALPHABET) for _ in range(8)) for _ in range(wrong)),
            right]


def test_the_key_is_private_made_once_and_the_same_for_every_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ThreadPoolExecutor(8) as pool:      # the CLI and the server starting at once
        digests = set(pool.map(lambda _: KeyedDigest.for_home(home).of("p", "x"), range(16)))

    key_file = home / DIGEST_KEY_FILE
    assert len(digests) == 1
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_bytes()) == 32
    assert KeyedDigest.for_home(tmp_path / "other").of("p", "x") not in digests
    assert not list(home.glob(".*.tmp"))


async def test_a_stored_pairing_code_cannot_be_matched_without_the_key(
        harness: Harness) -> None:
    code = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    [digest] = stored(harness.db_path, "SELECT code_hash FROM pairing_codes")
    candidates = offline_guesses(normalise_code(code))

    assert not [c for c in candidates if sha256(c) == digest]
    assert sha256(code) != digest
    assert KeyedDigest(os.urandom(32)).of(PAIRING_DIGEST, normalise_code(code)) != digest
    home = harness.db_path.parent
    assert KeyedDigest.for_home(home).of(PAIRING_DIGEST, normalise_code(code)) == digest
    paired = await harness.client.post("/bodhi/v1/apps/extension/pair", json={"code": code})
    assert paired.status == 200


async def test_a_stored_owner_ticket_cannot_be_matched_without_the_key(
        db: Database, tmp_path: Path) -> None:
    keyed = KeyedDigest.for_home(tmp_path)
    ticket = await issue_ticket(db, keyed)
    [digest] = stored(db.path, "SELECT ticket_hash FROM owner_login_tickets")

    assert sha256(ticket) != digest
    assert keyed.of(TICKET_DIGEST, ticket) == digest
    await redeem_ticket(db, keyed, ticket)
