"""The web UI's Users page in OIDC mode, in real Chromium against a real OpenID Connect provider
(``oidc-provider-mock``): a second user asks for access and the admin's open page shows the
request without a reload (the events socket); the admin approves it with a role, changes the
role and removes the user, and rejects another request. A manager sees no controls for an
admin, may give roles only up to manager, and sees the companion's refusal in the row when a
user became an admin meanwhile.
A plain user has no Users page and may make user-scope tokens only.

Screenshots at 1280 and 390 px: see e2e/web_ui.py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Locator, Page, sync_playwright

from e2e.conftest import CHROMIUM, UI_TIMEOUT_MS
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion
from tests.integration.oidc_provider import OidcProvider, oidc_companion, running_provider, sign_in

pytestmark = pytest.mark.slow

CLIENT_SECRET = "web-ui-users-s3cret"
ADA, BOB, CAROL, DAVE, ERIN = ("ada@example.com", "bob@example.com", "carol@example.com",
                               "dave@example.com", "erin@example.com")
ZOE = "zoe@example.com"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with running_provider(tmp_path_factory.mktemp("oidc") / "provider.log") as started:
        yield started


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, provider: OidcProvider
         ) -> Iterator[Companion]:
    with oidc_companion(tmp_path_factory.mktemp("team"), provider, "bodhi-web-ui-users",
                        CLIENT_SECRET) as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def signed_in(chromium: Chromium, team: Companion, subject: str, path: str) -> Page:
    """`subject` signed in through the provider in a context of its own, on `path`."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    page.goto(team.url + path)
    page.wait_for_url("**/ui/sign-in?next=*")
    page.get_by_test_id("sign-in-oidc").click()
    page.locator("input[name=sub]").fill(subject)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(team.url + path)
    return page


def users_page(chromium: Chromium, team: Companion, subject: str) -> Page:
    """`subject` signed in, on the Users page with live events on."""
    page = signed_in(chromium, team, subject, "/ui/users")
    page.get_by_test_id("users-table").wait_for()
    page.wait_for_selector("body[data-events=open]")
    return page


@contextlib.contextmanager
def asks_for_access(team: Companion, subject: str) -> Iterator[httpx.Client]:
    """`subject` signs in outside the browser and asks for a role, with this client."""
    with httpx.Client(timeout=60, headers={"Origin": team.url}) as client:
        assert sign_in(client, team.url, subject)["role"] is None
        asked = client.post(team.url + "/bodhi/v1/user/request-access")
        assert asked.status_code == 201, asked.text
        yield client


def user_row(page: Page, username: str) -> Locator:
    return page.locator(f"[data-testid=user-row][data-username='{username}']")


@pytest.fixture(scope="module")
def admin_page(chromium: Chromium, team: Companion) -> Iterator[Page]:
    """The first user to sign in, the admin, with the Users page open."""
    page = users_page(chromium, team, ADA)
    yield page
    page.context.close()


def test_a_request_arrives_live_and_is_approved_changed_and_removed(
        team: Companion, admin_page: Page, shots: Path) -> None:
    page = admin_page
    assert page.get_by_test_id("user-role").inner_text() == "admin"
    page.get_by_test_id("requests-empty").wait_for()
    assert user_row(page, ADA).get_by_test_id("not-manageable").inner_text() == "this is you"

    with asks_for_access(team, BOB):
        request = page.locator(f"[data-testid=request-row][data-username='{BOB}']")
        request.wait_for()                                   # no reload: the events socket
        assert request.get_by_test_id("approve-role").locator("option").count() == 4
        assert axe_problems(page) == []
        shoot(page, shots, "users")

        request.get_by_test_id("approve-role").select_option("resource_manager")
        request.get_by_test_id("approve").click()
        bob = page.locator(f"[data-testid=user-row][data-username='{BOB}']"
                           "[data-role=resource_manager]")
        bob.wait_for()
        page.get_by_test_id("requests-empty").wait_for()

        bob.get_by_test_id("user-role-select").select_option("resource_power_user")
        bob.get_by_test_id("change-role").click()
        user_row(page, BOB).and_(page.locator("[data-role=resource_power_user]")).wait_for()
        assert "power user" in page.get_by_test_id("notice").inner_text()
        assert axe_problems(page) == []

        user_row(page, BOB).get_by_test_id("remove-user").click()
        user_row(page, BOB).get_by_test_id("remove-user-confirm").click()
        user_row(page, BOB).wait_for(state="detached")

    with asks_for_access(team, ZOE) as zoe:
        request = page.locator(f"[data-testid=request-row][data-username='{ZOE}']")
        request.get_by_test_id("reject").click()
        request.get_by_test_id("reject-confirm").click()
        request.wait_for(state="detached")
        status = zoe.get(team.url + "/bodhi/v1/user/request-status").json()
        assert status["status"] == "rejected"
        assert user_row(page, ZOE).count() == 0


def test_a_manager_cannot_touch_an_admin_and_sees_a_refusal(
        team: Companion, chromium: Chromium, admin_page: Page, shots: Path) -> None:
    with httpx.Client(timeout=60, headers={"Origin": team.url}) as ada:
        assert sign_in(ada, team.url, ADA)["role"] == "resource_admin"
        for subject, role in ((CAROL, "resource_manager"), (DAVE, "resource_user")):
            with asks_for_access(team, subject):
                pending = ada.get(team.url + "/bodhi/v1/access-requests/pending").json()
                [asked] = [r for r in pending["data"] if r["username"] == subject]
                approved = ada.post(f"{team.url}/bodhi/v1/access-requests/{asked['id']}/approve",
                                    json={"role": role})
                assert approved.status_code == 200, approved.text

        page = users_page(chromium, team, CAROL)
        try:
            assert "only an admin" in user_row(page, ADA).get_by_test_id(
                "not-manageable").inner_text()
            dave = user_row(page, DAVE)
            options = dave.get_by_test_id("user-role-select").locator("option")
            assert options.all_inner_texts() == ["user", "power user", "manager"]
            assert axe_problems(page) == []
            shoot(page, shots, "users-manager")

            dave_id = dave_user_id(ada, team)
            promoted = ada.put(f"{team.url}/bodhi/v1/users/{dave_id}/role",
                               json={"role": "resource_admin"})
            assert promoted.status_code == 200, promoted.text
            dave.get_by_test_id("user-role-select").select_option("resource_power_user")
            dave.get_by_test_id("change-role").click()
            refusal = dave.get_by_test_id("form-error")
            refusal.wait_for()
            assert "cannot change a resource_admin" in refusal.inner_text()
            assert axe_problems(page) == []
        finally:
            page.context.close()


def test_a_user_gets_user_tokens_only_and_no_users_page(
        team: Companion, chromium: Chromium, admin_page: Page) -> None:
    with asks_for_access(team, ERIN):
        ask = admin_page.locator(f"[data-testid=request-row][data-username='{ERIN}']")
        ask.get_by_test_id("approve").click()                # the role offered first: user
        user_row(admin_page, ERIN).and_(admin_page.locator("[data-role=resource_user]")
                                        ).wait_for()
    page = signed_in(chromium, team, ERIN, "/ui/tokens")
    try:
        page.get_by_test_id("tokens-empty").wait_for()
        assert page.get_by_test_id("field-scope").locator("option").all_inner_texts() == [
            "User"]
        assert page.get_by_test_id("nav-users").count() == 0
    finally:
        page.context.close()


def dave_user_id(ada: httpx.Client, team: Companion) -> str:
    users = ada.get(team.url + "/bodhi/v1/users").json()["data"]
    return str(next(u["user_id"] for u in users if u["username"] == DAVE))
