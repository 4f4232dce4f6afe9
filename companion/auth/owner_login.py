"""Local owner login: one-time tickets that turn into an owner session.

Whoever can write ``$BODHI_HOME/bodhi.sqlite`` (the OS user who owns it: the CLI) may mint a
ticket, and so may the running companion for a request proven with the owner secret (the
native-messaging host's ``open``). A ticket is ``bodhiol_<43 url-safe chars>``, stored only
as its keyed digest (``companion.core.keyed_digest``; the minting process and the server read the
same key), good for one use within ``ttl_secs``. The server redeems it at
``/bodhi/v1/auth/owner-login?ticket=...`` for a session of the owner (role admin).
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode

from companion.core.errors import AuthenticationError
from companion.core.keyed_digest import KeyedDigest
from companion.storage import Database, OwnerTicketRepository

TICKET_PREFIX = "bodhiol_"
OWNER_LOGIN_PATH = "/bodhi/v1/auth/owner-login"
TICKET_DIGEST = "owner_login_ticket"


async def issue_ticket(db: Database, digest: KeyedDigest, ttl_secs: int = 60) -> str:
    """A fresh one-time ticket (returned raw, stored hashed) valid for ``ttl_secs``."""
    ticket = TICKET_PREFIX + secrets.token_urlsafe(32)
    now = int(time.time())
    repo = OwnerTicketRepository(db)
    await repo.prune(now)
    await repo.insert(digest.of(TICKET_DIGEST, ticket), now + ttl_secs)
    return ticket


def owner_login_url(base_url: str, ticket: str, then: str | None = None) -> str:
    """The one-time owner sign-in link; ``then``: a path of this server to continue to."""
    query = {"ticket": ticket, **({"next": then} if then else {})}
    return f"{base_url.rstrip('/')}{OWNER_LOGIN_PATH}?{urlencode(query)}"


async def redeem_ticket(db: Database, digest: KeyedDigest, ticket: str) -> None:
    """Use up ``ticket``; raises unless it is known, unused and unexpired."""
    if not ticket.startswith(TICKET_PREFIX) or not await OwnerTicketRepository(db).consume(
            digest.of(TICKET_DIGEST, ticket), int(time.time())):
        raise AuthenticationError("This login link is not valid: it was already used or has "
                                  "expired. Run 'bodhi open' for a new one.",
                                  code="auth_error-ticket_invalid")
