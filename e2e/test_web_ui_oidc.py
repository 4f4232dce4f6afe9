"""The web UI's sign-in in OIDC mode, in real Chromium against a real OpenID Connect provider
(``oidc-provider-mock``): the sign-in page sends the user to the provider, and a user with no
role lands on the request-access page, asks, and sees the request waiting; the admin approves
it and the user, signed in again, reaches the chat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import Page, sync_playwright

from e2e.conftest import CHROMIUM, UI_TIMEOUT_MS
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion
from tests.integration.oidc_provider import OidcProvider, oidc_companion, running_provider, sign_in

pytestmark = pytest.mark.slow

CLIENT_SECRET = "web-ui-s3cret-client"


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
    with oidc_companion(tmp_path_factory.mktemp("team"), provider, "bodhi-web-ui-test",
                        CLIENT_SECRET) as running:
        yield running


@pytest.fixture(scope="module")
def admin(team: Companion) -> Iterator[httpx.Client]:
    """The first user to sign in, who becomes the admin."""
    with httpx.Client(timeout=60, headers={"Origin": team.url}) as client:
        assert sign_in(client, team.url, "ada@example.com")["role"] == "resource_admin"
        yield client


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in_at_provider(page: Page, subject: str) -> None:
    page.get_by_test_id("sign-in-oidc").click()
    page.locator("input[name=sub]").fill(subject)
    page.get_by_role("button", name="Authorize").click()


def test_a_user_without_a_role_asks_for_access_then_chats(
        team: Companion, admin: httpx.Client, chromium: Chromium, shots: Path) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    page.goto(team.url + "/ui/chat")
    page.wait_for_url("**/ui/sign-in?next=*")
    assert page.get_by_test_id("sign-in").get_attribute("data-mode") == "oidc"
    assert axe_problems(page) == []
    shoot(page, shots, "sign-in-oidc")

    sign_in_at_provider(page, "bob@example.com")
    page.wait_for_url(team.url + "/ui/request-access")
    page.get_by_test_id("request-access-submit").click()
    status = page.get_by_test_id("request-status")
    assert status.get_attribute("data-status") == "pending"
    assert axe_problems(page) == []
    shoot(page, shots, "request-access")

    page.wait_for_selector("body[data-events=open]")
    pending = admin.get(team.url + "/bodhi/v1/access-requests/pending").json()["data"]
    [request] = [r for r in pending if r["username"] == "bob@example.com"]
    approved = admin.post(f"{team.url}/bodhi/v1/access-requests/{request['id']}/approve",
                          json={"role": "resource_user"})
    assert approved.status_code == 200, approved.text
    # No click: the decision reaches the waiting page as an event.
    page.get_by_test_id("request-status").and_(
        page.locator("[data-status=approved]")).wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/sign-in")
    sign_in_at_provider(page, "bob@example.com")
    page.wait_for_url(team.url + "/ui/chat")
    assert page.get_by_test_id("user-role").inner_text() == "user"
    context.close()
