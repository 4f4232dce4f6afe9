"""The web UI's Apps page in real Chromium, with the real extension, companion and model: a site
gets a grant through the extension's consent window while the page is open (it appears through
the events socket, and the request is announced before it is decided), calls the model, and the
page shows its last use and its activity (the model, the status, a refused call); revoking it in
the page ends the site's next call. Screenshots at 1280 and 390 px, axe on each state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from e2e.conftest import Browser, PageServer, access_outcome, ask_access
from e2e.web_ui import axe_problems, shoot, shots_folder

pytestmark = pytest.mark.slow

MODEL = "smollm2:135m"
BATCH_MS = 30_000            # activity is written every 10 s; headroom for a busy machine
CHAT = """([model, prompt]) => window.bodhi.chat({model, max_tokens: 4,
    messages: [{role: 'user', content: prompt}]}).then(
    (reply) => reply.object, (error) => error.code)"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def site_server() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def site(paired: Browser, site_server: PageServer) -> Iterator[Page]:
    page = paired.open(site_server.origin)
    yield page
    page.close()


@pytest.fixture(scope="module")
def ui(paired: Browser) -> Iterator[Page]:
    """The owner signed in to the web UI through a one-time link, on the Apps page."""
    page = paired.context.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    login = paired.companion.cli("open", "--no-browser").strip().splitlines()[-1]
    page.goto(login)
    page.wait_for_url("**/ui/chat")
    page.get_by_test_id("nav-apps").click()
    page.get_by_test_id("apps-page").wait_for()
    page.wait_for_selector("body[data-events=open]")
    yield page
    page.close()


def grant_card(ui: Page, origin: str) -> Locator:
    return ui.locator(f"[data-testid=apps-active-list] [data-testid=app-grant]"
                      f"[data-app='{origin}']")


def test_a_grant_appears_live_and_shows_its_activity(
        paired: Browser, ui: Page, site: Page, site_server: PageServer, shots: Path) -> None:
    expect(ui.get_by_test_id("apps-empty")).to_be_visible()
    assert axe_problems(ui) == []
    origin = site_server.origin

    consent = ask_access(paired, site, {"scopes": ["chat", "models"], "models": [MODEL],
                                        "reason": "Summarise my notes"})
    expect(ui.get_by_test_id("pending-request")).to_contain_text(origin)
    assert axe_problems(ui) == []
    consent.get_by_test_id("consent-allow-always").click()
    assert access_outcome(site)["result"]["granted"] is True

    card = grant_card(ui, origin)
    expect(card).to_be_visible()                        # no reload: grant.created arrived
    expect(ui.get_by_test_id("apps-pending")).to_have_count(0)
    expect(card.get_by_test_id("grant-scopes")).to_have_text("Chat, List models")
    expect(card.get_by_test_id("grant-models")).to_have_text(MODEL)
    expect(card.get_by_test_id("grant-expires")).to_have_text("Until revoked")
    card.get_by_test_id("grant-activity-toggle").click()
    expect(card.get_by_test_id("activity-empty")).to_be_visible()
    assert axe_problems(ui) == []

    assert site.evaluate(CHAT, [MODEL, "Say hi."]) == "chat.completion"
    assert site.evaluate(CHAT, ["a-model-outside-the-grant", "Say hi."]) == "api_error"

    # No reload: the companion writes its batch within seconds and says so (grant.used).
    rows = card.get_by_test_id("activity-row")
    expect(rows).to_have_count(2, timeout=BATCH_MS)
    expect(card.get_by_test_id("grant-last-used")).to_have_text("just now")
    expect(rows.nth(0)).to_have_attribute("data-status", "404")
    expect(rows.nth(0).get_by_test_id("activity-model")).to_have_text(
        "a-model-outside-the-grant")
    expect(rows.nth(1)).to_have_attribute("data-status", "200")
    expect(rows.nth(1).get_by_test_id("activity-model")).to_have_text(MODEL)
    expect(rows.nth(1)).to_contain_text("POST /v1/chat/completions")
    assert card.get_by_test_id("grant-activity-toggle").get_attribute("aria-expanded") == "true"
    assert axe_problems(ui) == []
    shoot(ui, shots, "apps")
    ui.set_viewport_size({"width": 390, "height": 844})   # the activity on a phone
    rows.nth(1).scroll_into_view_if_needed()
    ui.screenshot(path=str(shots / "web-ui-apps-activity-390.png"))
    ui.set_viewport_size({"width": 1280, "height": 800})


def test_revoking_in_the_page_ends_the_sites_next_call(
        paired: Browser, ui: Page, site: Page, site_server: PageServer, shots: Path) -> None:
    token = site.evaluate("window.bodhi.getToken()")["access_token"]
    card = grant_card(ui, site_server.origin)

    card.get_by_test_id("grant-revoke").focus()           # the keyboard alone
    ui.keyboard.press("Enter")
    expect(card.get_by_test_id("grant-revoke-confirm")).to_be_focused()
    assert axe_problems(ui) == []
    ui.keyboard.press("Enter")

    expect(card).to_have_count(0)
    expect(ui.get_by_test_id("notice")).to_contain_text("can no longer use")
    assert site.evaluate(CHAT, [MODEL, "Say hi."]) == "not_granted"
    refused = httpx.get(paired.companion.url + "/v1/models",
                        headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "auth_error-grant_revoked"
    ended = ui.get_by_test_id("apps-ended")
    ended.locator("summary").click()
    ended_card = ended.locator(f"[data-testid=app-grant][data-app='{site_server.origin}']")
    expect(ended_card).to_have_attribute("data-status", "revoked")
    expect(ended_card.get_by_test_id("grant-revoke")).to_have_count(0)
    assert axe_problems(ui) == []
    shoot(ui, shots, "apps-ended")
