"""Pairing the extension: codes (single use, expiry), credentials (verify, revoke)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.access.extension import CREDENTIAL_PREFIX, MAX_PAIRING_FAILURES, ExtensionService
from companion.auth.principal import OWNER_USER_ID, PrincipalKind, Role
from companion.cli.database import new_pairing_code
from companion.core.errors import AuthenticationError, BadRequestError
from companion.core.keyed_digest import KeyedDigest
from companion.core.settings import load_settings
from companion.storage import ChangeWatch, Database
from companion.storage.extension import ExtensionRepository, PairingCodeRecord
from tests.unit.apps_harness import Harness, bearer, harness

__all__ = ["harness"]


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Iterator[ExtensionService]:
    watch = ChangeWatch(db.path)
    yield ExtensionService(ExtensionRepository(db), KeyedDigest.for_home(tmp_path), watch)
    watch.close()


async def test_code_pairs_once(harness: Harness) -> None:
    code = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    assert len(code) == 9 and code[4] == "-"
    first = await harness.client.post("/bodhi/v1/apps/extension/pair",
                                      json={"code": code.lower().replace("-", " "),
                                            "extension_id": "abc", "browser": "firefox"})
    assert first.status == 200
    assert first.headers["Cache-Control"] == "no-store"
    credential = (await first.json())["credential"]
    assert credential.startswith(CREDENTIAL_PREFIX) and len(credential) == 9 + 43
    again = await harness.client.post("/bodhi/v1/apps/extension/pair", json={"code": code})
    assert again.status == 400
    assert (await again.json())["error"]["code"] == "pairing_code_invalid"
    # The new credential works: it may list grants (extension-only and session routes).
    listed = await harness.client.get("/bodhi/v1/apps/grants", headers=bearer(credential))
    assert listed.status == 200


async def test_expired_and_wrong_codes_are_refused(service: ExtensionService) -> None:
    expired = await service.new_pairing_code(OWNER_USER_ID, ttl_secs=-1)
    with pytest.raises(BadRequestError) as err:
        await service.redeem(expired, "abc", "chrome")
    assert err.value.code == "pairing_code_invalid"
    with pytest.raises(BadRequestError):
        await service.redeem("AAAA-AAAA", "abc", "chrome")


async def test_credential_resolves_to_the_owner_and_revoke_is_immediate(
        service: ExtensionService) -> None:
    credential, raw = await service.issue(OWNER_USER_ID, "abc", "chrome")
    principal = await service.verify(raw)
    assert principal is not None
    assert principal.kind is PrincipalKind.EXTENSION
    assert principal.role is Role.ADMIN and principal.user_id == OWNER_USER_ID
    assert await service.verify("bodhiapp_not-mine") is None
    with pytest.raises(AuthenticationError):
        await service.verify(raw[:-1] + ("A" if raw[-1] != "A" else "B"))
    await service.revoke(credential.id)
    with pytest.raises(AuthenticationError) as err:
        await service.verify(raw)
    assert err.value.code == "auth_error-token_inactive"


async def test_revoke_from_another_process_is_noticed(service: ExtensionService,
                                                      db: Database) -> None:
    credential, raw = await service.issue(OWNER_USER_ID, "abc", "chrome")
    assert await service.verify(raw) is not None   # now cached
    with sqlite3.connect(db.path) as other:
        other.execute("UPDATE extension_credentials SET status = 'revoked' WHERE id = ?",
                      (credential.id,))
    with pytest.raises(AuthenticationError):
        await service.verify(raw)


async def test_issued_credentials_are_stored_as_digests(service: ExtensionService,
                                                        db: Database) -> None:
    """What the owner route issues for the native host (tests/integration/
    test_native_host_owner.py covers the HTTP side)."""
    _, raw = await service.issue(OWNER_USER_ID, "abcdefgh", "chromium")
    assert raw.startswith(CREDENTIAL_PREFIX)
    async with db.conn.execute("SELECT extension_id, browser, token_hash, user_id "
                               "FROM extension_credentials") as cur:
        rows = await cur.fetchall()
    assert tuple(rows[0])[:2] == ("abcdefgh", "chromium") and rows[0][3] == OWNER_USER_ID
    assert raw not in rows[0][2]   # only the digest is stored


async def test_pairing_code_for_the_cli_is_in_the_servers_database(tmp_path: Path) -> None:
    settings = load_settings(env={"BODHI_HOME": str(tmp_path / "home")})
    code = await new_pairing_code(settings)
    assert len(code) == 9
    db = await Database.open(settings.db_path)
    try:
        async with db.conn.execute("SELECT COUNT(*) FROM pairing_codes") as cur:
            assert (await cur.fetchone())[0] == 1
    finally:
        await db.close()


async def _wrong_guesses(harness: Harness, count: int) -> None:
    for n in range(count):
        wrong = await harness.client.post("/bodhi/v1/apps/extension/pair",
                                          json={"code": f"ZZZZ-{n:04d}"})
        assert wrong.status == 400


async def test_guessing_burns_every_open_code(harness: Harness) -> None:
    code = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    await _wrong_guesses(harness, MAX_PAIRING_FAILURES)
    right = await harness.client.post("/bodhi/v1/apps/extension/pair", json={"code": code})
    assert right.status == 400
    assert (await right.json())["error"]["code"] == "pairing_code_invalid"
    # A code issued afterwards works: the owner runs `bodhi pair` again.
    fresh = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    again = await harness.client.post("/bodhi/v1/apps/extension/pair", json={"code": fresh})
    assert again.status == 200


async def test_a_few_typos_do_not_cancel_the_code(harness: Harness) -> None:
    code = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    await _wrong_guesses(harness, MAX_PAIRING_FAILURES - 1)
    right = await harness.client.post("/bodhi/v1/apps/extension/pair", json={"code": code})
    assert right.status == 200


# --- web pages cannot spend the guesses ------------------------------------------------------

PAIR = "/bodhi/v1/apps/extension/pair"
# What a page's fetch(PAIR, {method: 'POST', mode: 'no-cors', body: '{"code": ...}'}) sends:
# no preflight, a text/plain body, and the browser's own labels.
NO_CORS_PAGE = {"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.test",
                "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}


@pytest.mark.parametrize("headers", [
    NO_CORS_PAGE,
    # a page on another port of localhost is the same site
    {**NO_CORS_PAGE, "Origin": "http://127.0.0.1:8001", "Sec-Fetch-Site": "same-site"},
    # a sandboxed frame
    {**NO_CORS_PAGE, "Origin": "null"},
    # a JSON post from a page (the browser would preflight it; the route answers no CORS)
    {**NO_CORS_PAGE, "Content-Type": "application/json", "Sec-Fetch-Mode": "cors"},
    # a browser that labels nothing still cannot send JSON without a preflight
    {"Content-Type": "text/plain;charset=UTF-8"},
], ids=["cross-site", "same-site", "null-origin", "json-from-page", "unlabelled-text"])
async def test_web_pages_cannot_spend_pairing_guesses(
        harness: Harness, headers: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    code = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    answers = set()
    for n in range(MAX_PAIRING_FAILURES + 5):
        refused = await harness.client.post(PAIR, data=f'{{"code": "ZZZZ-{n:04d}"}}',
                                            headers=headers)
        answers.add((refused.status, (await refused.json())["error"]["code"]))

    right = await harness.client.post(PAIR, json={"code": code})
    assert right.status == 200, await right.text()
    assert answers <= {(403, "auth_error-cross_site_request"), (400, "invalid_content_type")}
    assert "wrong pairing codes" not in caplog.text


@pytest.mark.parametrize("origin, site", [
    ("chrome-extension://mcphjcdpkdbbaomlnmbodmbmcmhckdkh", "none"),
    ("chrome-extension://mcphjcdpkdbbaomlnmbodmbmcmhckdkh", "cross-site"),
    ("moz-extension://0b2e5e2c-5b1e-4c7a-9d0e-3f8f2a6c1d4b", "same-origin"),
    (None, None),                                          # curl, scripts
])
async def test_the_extension_and_the_owners_tools_pair_and_their_guesses_count(
        harness: Harness, origin: str | None, site: str | None) -> None:
    headers = {name: value for name, value in (("Origin", origin), ("Sec-Fetch-Site", site))
               if value is not None}
    code = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    paired = await harness.client.post(PAIR, json={"code": code}, headers=headers)
    assert paired.status == 200, await paired.text()
    code = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    for n in range(MAX_PAIRING_FAILURES):
        wrong = await harness.client.post(PAIR, json={"code": f"ZZZZ-{n:04d}"}, headers=headers)
        assert (await wrong.json())["error"]["code"] == "pairing_code_invalid"
    burned = await harness.client.post(PAIR, json={"code": code}, headers=headers)
    assert burned.status == 400


# --- the guess limit holds under concurrency -------------------------------------------------


class JudgeCount(ExtensionRepository):
    """The real repository, counting the guesses judged before the first cancellation."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.judged = 0
        self.burned = False

    async def use_code(self, code_hash: str, now: int) -> PairingCodeRecord | None:
        self.judged += 0 if self.burned else 1
        return await super().use_code(code_hash, now)

    async def burn_codes(self, now: int) -> int:
        self.burned = True
        return await super().burn_codes(now)


async def test_a_concurrent_burst_gets_no_more_than_the_documented_guesses(
        db: Database, tmp_path: Path) -> None:
    repo = JudgeCount(db)
    service = ExtensionService(repo, KeyedDigest.for_home(tmp_path))
    code = await service.new_pairing_code(OWNER_USER_ID)
    guesses = [f"ZZZZ-{n:04d}" for n in range(3 * MAX_PAIRING_FAILURES)] + [code]

    results = await asyncio.gather(*(service.redeem(g, "abc", "chrome") for g in guesses),
                                   return_exceptions=True)

    assert repo.judged == MAX_PAIRING_FAILURES
    # The right code, last in the burst, came after the limit: it was cancelled, not redeemed.
    assert all(isinstance(r, BadRequestError) for r in results)
    with pytest.raises(BadRequestError):
        await service.redeem(code, "abc", "chrome")


async def test_each_wrong_code_says_how_many_tries_are_left(harness: Harness) -> None:
    await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    refusals = []
    for n in range(MAX_PAIRING_FAILURES):
        wrong = await harness.client.post(PAIR, json={"code": f"ZZZZ-{n:04d}"})
        assert wrong.status == 400
        refusals.append((await wrong.json())["error"])

    left = [r["tries_left"] for r in refusals]
    assert left == list(range(MAX_PAIRING_FAILURES - 1, -1, -1))
    assert f"{MAX_PAIRING_FAILURES - 1} tries left" in refusals[0]["message"]
    assert "1 try left" in refusals[-2]["message"]
    assert [r["codes_cancelled"] for r in refusals] == [False] * (MAX_PAIRING_FAILURES - 1) + [True]
    last = refusals[-1]
    assert (last["code"], last["param"]) == ("pairing_code_invalid", "code")
    assert "cancelled" in last["message"] and "bodhi pair" in last["message"]
    # The count starts again after the cancellation, and after a successful pairing.
    again = await harness.client.post(PAIR, json={"code": "ZZZZ-9999"})
    assert (await again.json())["error"]["tries_left"] == MAX_PAIRING_FAILURES - 1
    code = await harness.apps.extension.new_pairing_code(OWNER_USER_ID)
    assert (await harness.client.post(PAIR, json={"code": code})).status == 200
    after = await harness.client.post(PAIR, json={"code": "ZZZZ-9998"})
    assert (await after.json())["error"]["tries_left"] == MAX_PAIRING_FAILURES - 1
