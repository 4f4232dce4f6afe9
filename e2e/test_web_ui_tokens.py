"""The web UI's Tokens page in real Chromium against the real companion and model: a token made
in the form is shown once, copied with the copy button, and works with the official OpenAI
Python SDK; deactivated it gets 401, activated it works again, renamed, deleted; a token for
one model is refused another; the form's checks before sending and the server's answer under
its field; the value is gone after a reload.

Screenshots at 1280 and 390 px: see e2e/web_ui.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import Browser as Chromium
from playwright.sync_api import BrowserContext, Locator, Page, sync_playwright

from e2e.conftest import CHROMIUM, UI_TIMEOUT_MS, owner_session
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion

pytestmark = pytest.mark.slow

MODEL = "smollm2:135m"
OTHER = "smol:tokens-other"      # a second alias of the same file, for a model-limited token


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def owner(companion: Companion) -> Iterator[httpx.Client]:
    with owner_session(companion) as client:
        copied = client.post(f"/bodhi/v1/models/alias/{MODEL}/copy", json={"alias": OTHER})
        assert copied.status_code == 201, copied.text
        made = client.post("/bodhi/v1/tokens", json={"name": "ci runner", "models": [MODEL]})
        assert made.status_code == 201, made.text
        yield client


@pytest.fixture(scope="module")
def context(companion: Companion, owner: httpx.Client) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        chromium: Chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                        args=["--no-sandbox"])
        made = chromium.new_context(viewport={"width": 1280, "height": 800})
        made.set_default_timeout(UI_TIMEOUT_MS)
        made.grant_permissions(["clipboard-read", "clipboard-write"], origin=companion.url)
        try:
            yield made
        finally:
            made.close()
            chromium.close()


@pytest.fixture(scope="module")
def page(companion: Companion, context: BrowserContext) -> Page:
    """Signed in as the owner through a one-time link, on the Tokens page."""
    opened = context.new_page()
    opened.goto(companion.cli("open", "--no-browser").strip().splitlines()[-1])
    opened.wait_for_url(f"{companion.url}/ui/chat")
    opened.get_by_test_id("nav-tokens").click()
    opened.get_by_test_id("tokens-page").wait_for()
    opened.get_by_test_id("token-row").first.wait_for()
    return opened


def row(page: Page, name: str) -> Locator:
    return page.locator(f"[data-testid=token-row][data-name='{name}']")


def sdk(companion: Companion, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=companion.url + "/v1", api_key=token, max_retries=0,
                         timeout=120)


def make_token(page: Page, name: str, models: list[str] | None = None) -> str:
    """Fills the form and sends it; returns the value it showed once."""
    page.get_by_test_id("field-name").fill(name)
    if models is not None:
        page.get_by_test_id("field-all_models").uncheck()
        for model in models:
            page.get_by_test_id("model-choice").and_(page.locator(f"[value='{model}']")).check()
    page.get_by_test_id("token-create").click()
    value = page.get_by_test_id("token-value").inner_text()
    assert value.startswith("bodhiapp_")
    return value


def test_checks_before_sending_and_the_servers_answer_under_its_field(
        page: Page, shots: Path) -> None:
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.get_by_test_id("token-create").click()
    assert page.get_by_test_id("error-name").inner_text() == "A name is required."
    assert page.evaluate("() => document.activeElement.name") == "name"
    page.get_by_test_id("field-name").fill("no models")
    page.get_by_test_id("field-all_models").uncheck()
    page.get_by_test_id("token-create").click()
    assert "Pick at least one model" in page.get_by_test_id("error-models").inner_text()
    assert posts == []                                      # nothing was sent
    page.get_by_test_id("field-all_models").check()

    page.get_by_test_id("field-name").fill("x" * 101)       # the length is the server's check
    page.get_by_test_id("token-create").click()
    page.get_by_test_id("error-name").filter(has_text="100").wait_for()
    assert page.get_by_test_id("field-name").get_attribute("aria-invalid") == "true"
    assert page.get_by_test_id("form-error").count() == 0
    assert axe_problems(page) == []
    shoot(page, shots, "tokens-form-error")
    page.get_by_test_id("field-name").fill("")


def test_a_token_is_shown_once_copied_and_works_with_the_openai_sdk(
        companion: Companion, page: Page, shots: Path) -> None:
    scopes = page.get_by_test_id("field-scope").locator("option").all_inner_texts()
    assert scopes == ["User", "Power user"]                 # the owner is an admin
    shown = make_token(page, "notebook")
    assert "will not be shown again" in page.get_by_test_id("token-once").inner_text()
    assert axe_problems(page) == []
    shoot(page, shots, "tokens-once")

    # The focus moved to the new token; the copy button is the next stop for the keyboard.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.testid") == "token-copy"
    page.keyboard.press("Enter")
    page.get_by_test_id("token-copy").filter(has_text="Copied").wait_for()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == shown

    with sdk(companion, copied) as client:
        assert MODEL in [m.id for m in client.models.list().data]
        reply = client.chat.completions.create(
            model=MODEL, max_tokens=3, messages=[{"role": "user", "content": "Say hi"}])
    assert reply.choices[0].message.content is not None

    page.reload()
    page.get_by_test_id("token-row").first.wait_for()
    assert page.get_by_test_id("token-once").count() == 0
    assert shown not in page.content()
    assert row(page, "notebook").get_by_test_id("token-last-used").inner_text() == "just now"
    assert row(page, "ci runner").get_by_test_id("token-last-used").inner_text() == "never"
    assert axe_problems(page) == []
    shoot(page, shots, "tokens")


def test_deactivate_activate_rename_delete(companion: Companion, page: Page) -> None:
    shown = make_token(page, "short-lived")
    page.get_by_test_id("token-once-done").click()
    with sdk(companion, shown) as client:
        switch_and_remove(page, client)


def switch_and_remove(page: Page, client: openai.OpenAI) -> None:
    mine = row(page, "short-lived")
    mine.get_by_test_id("token-deactivate").click()
    page.locator("[data-testid=token-row][data-name='short-lived'][data-status=inactive]"
                 ).wait_for()
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    mine.get_by_test_id("token-activate").click()
    mine.get_by_test_id("token-status").filter(has_text="active").wait_for()
    assert MODEL in [m.id for m in client.models.list().data]

    mine.get_by_test_id("token-rename").click()
    page.get_by_test_id("rename-name").fill("renamed")
    page.get_by_test_id("rename-save").click()
    renamed = row(page, "renamed")
    renamed.wait_for()
    assert axe_problems(page) == []

    renamed.get_by_test_id("token-delete").click()
    renamed.get_by_test_id("token-delete-confirm").click()
    renamed.wait_for(state="detached")
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_a_token_for_one_model_is_refused_another(companion: Companion, page: Page) -> None:
    shown = make_token(page, "only the other", models=[OTHER])
    page.get_by_test_id("token-once-done").click()
    assert row(page, "only the other").get_by_test_id("token-models").inner_text() == OTHER
    with sdk(companion, shown) as client:
        assert [m.id for m in client.models.list().data] == [OTHER]
        # A model outside the token's grant is answered as one that does not exist for it.
        with pytest.raises(openai.NotFoundError, match="do not have access"):
            client.chat.completions.create(
                model=MODEL, max_tokens=3, messages=[{"role": "user", "content": "Say hi"}])

