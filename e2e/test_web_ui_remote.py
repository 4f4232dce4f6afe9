"""The web UI's remote models and settings in real Chromium, against the real companion: an API
model record made in the form against a real OpenAI-format server on loopback (models fetched,
a test prompt, the key write-only), then used in the chat; a router alias over two targets
made, reordered and used; errors shown next to their fields (caught before sending, and the
server's); and the Settings page: a runtime edit that takes effect, its reset, and a refused
value. The provider is tests/integration/fake_openai.py, so no reply here waits on the model.

Screenshots of each page at 1280 and 390 px: see e2e/web_ui.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, Request, expect

from e2e.conftest import Browser, owner_session
from e2e.test_web_ui import ask, last_reply, reply_done, signed_in
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion
from tests.integration import fake_openai
from tests.integration.fake_openai import FakeOpenAI

pytestmark = pytest.mark.slow

KEY = fake_openai.KEY


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def companion_env() -> dict[str, str]:
    # The log level from its default (the test companions set it in the environment), and one
    # editable setting pinned by the environment, which the page must not offer to edit.
    return {"BODHI_LOG_LEVEL": "", "BODHI_MODEL_MEMORY_BUDGET_MB": "0"}


@pytest.fixture(scope="module")
def owner(companion: Companion) -> Iterator[httpx.Client]:
    with owner_session(companion) as client:
        yield client


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with fake_openai.serving() as server:
        yield server


def open_tab(browser: Browser, tab: str) -> Page:
    page = signed_in(browser)
    page.get_by_test_id("nav-models").click()
    page.get_by_test_id(f"tab-{tab}").click()
    page.wait_for_url(f"**/ui/models/{tab}")
    return page


def sent(page: Page, path: str) -> list[str]:
    """The methods of the requests the page sends to `path` from now on."""
    seen: list[str] = []

    def note(request: Request) -> None:
        if request.url.split("?")[0].endswith(path):
            seen.append(request.method)
    page.on("request", note)
    return seen


def chat_with(page: Page, model: str) -> str:
    page.get_by_test_id("nav-chat").click()
    page.get_by_test_id("new-chat").click()
    page.get_by_test_id("model-picker").select_option(model)
    before = ask(page, "Say hi.")
    reply_done(page, before)
    assert last_reply(page).get_by_test_id("message-error").count() == 0
    return str(last_reply(page).locator(".md").inner_text()).strip()


def test_an_api_model_is_made_in_the_form_tested_and_used_in_chat(
        browser: Browser, owner: httpx.Client, fake: FakeOpenAI, shots: Path) -> None:
    page = open_tab(browser, "api")
    page.get_by_test_id("api-models-empty").wait_for()
    page.get_by_test_id("api-model-new").click()
    form = page.get_by_test_id("api-model-form")
    posts = sent(page, "/bodhi/v1/models/api")

    # Checked before sending: a URL that is none, and headers that are not a JSON object.
    form.get_by_test_id("field-id").fill("fake")
    form.get_by_test_id("field-base_url").fill("127.0.0.1 port 80")
    form.get_by_test_id("field-extra_headers").fill('["X-Team"]')
    form.get_by_test_id("api-model-save").click()
    expect(form.get_by_test_id("error-base_url")).to_contain_text("full URL")
    expect(form.get_by_test_id("error-extra_headers")).to_contain_text("JSON object")
    expect(form.get_by_test_id("error-models")).to_contain_text("at least one model")
    assert page.evaluate("() => document.activeElement.name") == "base_url"
    assert posts == [], "the form sent a request it should have refused"

    form.get_by_test_id("field-base_url").fill(fake.url)
    form.get_by_test_id("field-extra_headers").fill('{"X-Team": "web-ui"}')
    form.get_by_test_id("field-api_key").fill(KEY)
    form.get_by_test_id("fetch-models").click()
    expect(form.get_by_test_id("fetch-note")).to_contain_text("6 models offered")
    offered = form.get_by_test_id("model-choice").evaluate_all("(els) => els.map(e => e.value)")
    assert offered == ["ok-1", "ok-2", "rate-limited", "broken", "cut", "garbage"]
    for name in ("ok-1", "ok-2"):
        form.locator(f"[data-testid=model-choice][value='{name}']").check()
    form.get_by_test_id("field-prefix").fill("fake/")

    form.get_by_test_id("field-test_model").select_option("ok-2")
    form.get_by_test_id("test-model").click()
    expect(form.get_by_test_id("test-result")).to_contain_text("hi from ok-2")
    assert fake.calls["ok-2"] == 1
    assert axe_problems(page) == []
    shoot(page, shots, "models-api-form")

    form.get_by_test_id("api-model-save").click()
    row = page.locator("[data-testid=api-model-row][data-id=fake]")
    expect(row.get_by_test_id("api-model-names")).to_contain_text("fake/ok-1, fake/ok-2")
    expect(row.get_by_test_id("api-model-key")).to_contain_text("…6789")
    # Write-only: the key is nowhere in the page, not even in a field's value.
    values = page.locator("input, textarea").evaluate_all("(els) => els.map(e => e.value)")
    assert KEY not in page.content() and KEY not in "".join(values)
    stored = owner.get("/bodhi/v1/models/api/fake").json()
    assert (stored["has_api_key"], stored["extra_headers"]) == (True, {"X-Team": "web-ui"})
    assert axe_problems(page) == []
    shoot(page, shots, "models-api")

    # Editing without typing a key keeps it: the saved record still reaches the provider.
    row.get_by_test_id("api-model-edit").click()
    form = page.get_by_test_id("api-model-form")
    expect(form.get_by_test_id("field-api_key")).to_have_value("")
    form.get_by_test_id("field-test_model").select_option("ok-1")
    form.get_by_test_id("test-model").click()
    expect(form.get_by_test_id("test-result")).to_contain_text("hi from ok-1")
    form.get_by_test_id("api-model-save").click()
    expect(form).to_have_count(0)
    assert owner.get("/bodhi/v1/models/api/fake").json()["has_api_key"] is True

    assert chat_with(page, "fake/ok-1") == "hi"
    assert fake.calls["ok-1"] == 2

    page.get_by_test_id("nav-models").click()
    page.get_by_test_id("tab-api").click()
    row.get_by_test_id("api-model-edit").click()
    form = page.get_by_test_id("api-model-form")
    form.get_by_test_id("field-clear_key").check()
    expect(form.get_by_test_id("field-api_key")).to_be_disabled()
    form.get_by_test_id("api-model-save").click()
    expect(row.get_by_test_id("api-model-key")).to_have_text("none")
    assert owner.get("/bodhi/v1/models/api/fake").json()["has_api_key"] is False
    row.get_by_test_id("api-model-delete").click()
    row.get_by_test_id("api-model-delete-confirm").click()
    page.get_by_test_id("api-models-empty").wait_for()
    assert owner.get("/bodhi/v1/models/api/fake").status_code == 404
    page.close()


def test_the_server_names_the_field_it_refuses(browser: Browser, fake: FakeOpenAI) -> None:
    page = open_tab(browser, "api")
    page.get_by_test_id("api-model-new").click()
    form = page.get_by_test_id("api-model-form")
    form.get_by_test_id("field-base_url").fill(fake.url)
    # A name the embedded local model already has: only the server knows (409, param models).
    form.get_by_test_id("model-add-input").fill("smollm2:135m")
    form.get_by_test_id("model-add-input").press("Enter")
    form.get_by_test_id("api-model-save").click()
    expect(form.get_by_test_id("error-models")).to_contain_text("already taken by a local model")
    expect(form.get_by_test_id("form-error")).to_have_count(0)
    # A provider that refuses the key: the refusal is shown by the Test button.
    form.get_by_test_id("field-api_key").fill("wrong-key")
    form.get_by_test_id("field-test_model").select_option("smollm2:135m")
    form.get_by_test_id("test-model").click()
    expect(form.get_by_test_id("test-error")).to_contain_text("Incorrect API key")
    form.get_by_test_id("fetch-models").click()
    expect(form.get_by_test_id("fetch-note")).to_contain_text("Could not fetch")
    expect(form.get_by_test_id("fetch-note")).to_contain_text("refused its API key")
    assert page.url.endswith("/ui/models/api"), "a provider's refusal is no lost session"
    form.get_by_test_id("api-model-cancel").click()
    expect(form).to_have_count(0)
    page.close()


def test_a_router_alias_is_made_with_two_targets_and_answers(
        browser: Browser, owner: httpx.Client, fake: FakeOpenAI, shots: Path) -> None:
    page = open_tab(browser, "api")
    page.wait_for_function("() => document.body.dataset.events === 'open'")
    # Made outside the browser: the tab shows it without a reload (models.changed).
    made = owner.post("/bodhi/v1/models/api", json={
        "id": "flaky", "api_format": "openai", "base_url": fake.url, "api_key": KEY,
        "models": ["broken"], "prefix": "flaky/"})
    assert made.status_code == 201, made.text
    page.locator("[data-testid=api-model-row][data-id=flaky]").wait_for()
    made = owner.post("/bodhi/v1/models/api", json={
        "id": "fake", "api_format": "openai", "base_url": fake.url, "api_key": KEY,
        "models": ["ok-1", "ok-2"], "prefix": "fake/"})
    assert made.status_code == 201, made.text

    page.get_by_test_id("tab-routers").click()
    page.get_by_test_id("router-new").click()
    form = page.get_by_test_id("router-form")
    posts = sent(page, "/bodhi/v1/models/router")
    form.get_by_test_id("router-save").click()
    expect(form.get_by_test_id("error-alias")).to_contain_text("required")
    expect(form.get_by_test_id("error-targets")).to_contain_text("at least one target")
    assert posts == []

    form.get_by_test_id("field-alias").fill("smollm2:135m")
    for target in ("fake/ok-2", "flaky/broken", "fake/ok-1"):
        form.get_by_test_id("target-pick").select_option(target)
        form.get_by_test_id("target-add").click()
    form.locator("[data-testid=target]", has_text="fake/ok-2").get_by_test_id(
        "target-remove").click()
    form.locator("[data-testid=target]", has_text="fake/ok-1").get_by_test_id("target-up").click()
    expect(form.get_by_test_id("target")).to_have_text(["fake/ok-1↑↓✕", "flaky/broken↑↓✕"])
    form.get_by_test_id("router-save").click()
    # The server's refusal, next to the field it names (a local model has that name).
    expect(form.get_by_test_id("error-alias")).to_contain_text("already taken")
    assert posts == ["POST"]
    assert axe_problems(page) == []
    shoot(page, shots, "models-routers-form")

    form.get_by_test_id("field-alias").fill("fast")
    form.get_by_test_id("router-save").click()
    row = page.locator("[data-testid=router-row][data-alias=fast]")
    expect(row.get_by_test_id("router-targets")).to_have_text("fake/ok-1 → flaky/broken")
    assert axe_problems(page) == []
    shoot(page, shots, "models-routers")

    row.get_by_test_id("router-edit").click()
    form = page.get_by_test_id("router-form")
    form.get_by_test_id("field-strategy").select_option("round_robin")
    form.locator("[data-testid=target]", has_text="flaky/broken").get_by_test_id(
        "target-up").click()
    assert axe_problems(page) == []
    form.get_by_test_id("router-save").click()
    expect(row.get_by_test_id("router-targets")).to_have_text("flaky/broken → fake/ok-1")
    assert owner.get("/bodhi/v1/models/router/fast").json()["strategy"] == "round_robin"

    # The broken target fails first and the next one answers.
    before = fake.calls["ok-1"]
    assert chat_with(page, "fast") == "hi"
    assert fake.calls["broken"] == 1 and fake.calls["ok-1"] == before + 1

    page.get_by_test_id("nav-models").click()
    page.get_by_test_id("tab-routers").click()
    page.get_by_test_id("router-delete").click()
    page.get_by_test_id("router-delete-confirm").click()
    page.get_by_test_id("routers-empty").wait_for()
    assert owner.get("/bodhi/v1/models/router/fast").status_code == 404
    page.close()


def setting_row(page: Page, key: str) -> Locator:
    return page.locator(f"[data-testid=setting-row][data-key={key}]")


def ask_router(owner: httpx.Client, model: str) -> httpx.Response:
    return owner.post("/v1/chat/completions", json={
        "model": model, "messages": [{"role": "user", "content": "hi"}]})


def test_settings_are_edited_with_effect_reset_and_refused(
        browser: Browser, owner: httpx.Client, fake: FakeOpenAI, shots: Path) -> None:
    page = signed_in(browser)
    page.get_by_test_id("nav-settings").click()
    page.get_by_test_id("settings-table").wait_for()
    assert setting_row(page, "BODHI_PORT").get_by_test_id("setting-why").inner_text() \
        .startswith("Needs a restart")
    assert "environment" in setting_row(page, "BODHI_HOME").get_by_test_id(
        "setting-source").inner_text()
    pinned = setting_row(page, "BODHI_MODEL_MEMORY_BUDGET_MB")
    assert pinned.get_by_test_id("setting-why").inner_text() == (
        "Set in the environment (BODHI_MODEL_MEMORY_BUDGET_MB), which wins over an edit here.")
    assert pinned.get_by_test_id("setting-edit").count() == 0
    assert axe_problems(page) == []
    shoot(page, shots, "settings")

    page.get_by_test_id("settings-search").fill("no such thing")
    expect(page.get_by_test_id("settings-none")).to_be_visible()
    page.get_by_test_id("settings-search").fill("cooldown")
    expect(page.get_by_test_id("setting-row")).to_have_count(1)
    row = setting_row(page, "BODHI_ROUTER_COOLDOWN_SECS")
    row.get_by_test_id("setting-edit").click()
    puts = sent(page, "/bodhi/v1/settings/BODHI_ROUTER_COOLDOWN_SECS")
    value = row.get_by_test_id("field-value")
    assert value.get_attribute("type") == "number" and value.get_attribute("min") == "1"
    value.fill("0")
    row.get_by_test_id("setting-save").click()
    expect(row.get_by_test_id("error-value")).to_have_text("Enter a whole number of at least 1.")
    assert puts == []
    # A number the browser takes but the setting does not: the server's words, by the field.
    value.fill("1e3")
    row.get_by_test_id("setting-save").click()
    expect(row.get_by_test_id("error-value")).to_contain_text("expected a whole number")
    assert puts == ["PUT"]
    assert axe_problems(page) == []
    shoot(page, shots, "settings-edit")

    value.fill("42")
    row.get_by_test_id("setting-save").click()
    expect(row).to_have_attribute("data-source", "database")
    expect(row.get_by_test_id("setting-value")).to_have_text("42")
    shown = owner.get("/bodhi/v1/settings/BODHI_ROUTER_COOLDOWN_SECS").json()
    assert (shown["current_value"], shown["source"]) == (42, "database")
    # In effect: a router's failed target now cools down for 42 s.
    made = owner.post("/bodhi/v1/models/api", json={
        "id": "flaky2", "api_format": "openai", "base_url": fake.url, "api_key": KEY,
        "models": ["broken"], "prefix": "flaky2/"})
    assert made.status_code == 201, made.text
    routed = owner.post("/bodhi/v1/models/router", json={"alias": "only-broken",
                                                         "targets": ["flaky2/broken"]})
    assert routed.status_code == 201, routed.text
    assert ask_router(owner, "only-broken").status_code >= 500
    refused = ask_router(owner, "only-broken")
    assert refused.status_code == 503 and 40 <= int(refused.headers["Retry-After"]) <= 42

    row.get_by_test_id("setting-reset").click()
    row.get_by_test_id("setting-reset-confirm").click()
    expect(row).to_have_attribute("data-source", "default")
    expect(row.get_by_test_id("setting-value")).to_have_text("30")
    shown = owner.get("/bodhi/v1/settings/BODHI_ROUTER_COOLDOWN_SECS").json()
    assert (shown["current_value"], shown["source"]) == (30, "default")

    # With the keyboard: Enter on Edit puts the focus in the input, Escape goes back.
    page.get_by_test_id("settings-search").fill("keep alive")
    row = setting_row(page, "BODHI_KEEP_ALIVE_SECS")
    row.get_by_test_id("setting-edit").focus()
    page.keyboard.press("Enter")
    expect(row.get_by_test_id("field-value")).to_be_focused()
    page.keyboard.press("Escape")
    expect(row.get_by_test_id("setting-edit")).to_be_focused()

    # A setting with choices is edited with a list of them.
    page.get_by_test_id("settings-search").fill("log level")
    row = setting_row(page, "BODHI_LOG_LEVEL")
    row.get_by_test_id("setting-edit").click()
    row.get_by_test_id("field-value").select_option("warning")
    row.get_by_test_id("setting-save").click()
    expect(row.get_by_test_id("setting-value")).to_have_text("WARNING")
    assert owner.get("/bodhi/v1/settings/BODHI_LOG_LEVEL").json()["current_value"] == "WARNING"
    row.get_by_test_id("setting-reset").click()
    row.get_by_test_id("setting-reset-confirm").click()
    expect(row).to_have_attribute("data-source", "default")

    page.get_by_test_id("settings-search").fill("")
    page.get_by_test_id("theme-toggle").click()
    assert axe_problems(page) == []                     # the dark colours keep their contrast
    page.get_by_test_id("theme-toggle").click()
    owner.delete("/bodhi/v1/models/router/only-broken")
    page.close()
