"""The web UI's Models page, local tabs, in real Chromium against the real companion and model:
downloads from a local HF-protocol server with live progress, cancel, retry and errors; files
with their GGUF details and delete; aliases made in the form (checked before sending, the
server's refusal shown at its field), used in the chat, edited, copied and deleted; loaded
models loaded and unloaded, live. Screenshots of each tab at 1280 and 390 px; axe on each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from companion.models.catalog import embedded_model
from e2e.conftest import Browser, owner_session
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion
from tests.hf_server import HubServer

pytestmark = pytest.mark.slow

REPO = "bodhi-test/SmolLM2-135M-Instruct-GGUF"
OTHER = "bodhi-test/other"
MODEL = "smollm2:135m"
WAIT_MS = 60_000
PAGE_ERRORS: list[str] = []  # uncaught errors in the page's scripts: none expected


def model_file() -> Path:
    model = embedded_model()
    if model is None:
        pytest.fail("the embedded model is not installed: run scripts/install")
    return model.path


@pytest.fixture(scope="module")
def hub() -> Iterator[HubServer]:
    server = HubServer()
    for repo in (REPO, OTHER):
        server.add(repo, model_file().name, model_file())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def companion_env(hub: HubServer) -> dict[str, str]:
    return {"HF_ENDPOINT": hub.url}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def owner(companion: Companion) -> Iterator[httpx.Client]:
    with owner_session(companion) as client:
        yield client


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    """One signed-in tab for the module (each test opens the tab it needs)."""
    tab = browser.context.new_page()
    tab.on("pageerror", lambda error: PAGE_ERRORS.append(str(error)))
    tab.set_viewport_size({"width": 1280, "height": 800})
    tab.goto(browser.companion.cli("open", "--no-browser").strip().splitlines()[-1])
    tab.wait_for_url(f"{browser.companion.url}/ui/chat")
    yield tab
    tab.close()


def open_tab(page: Page, tab: str) -> None:
    """The Models page on `tab`, with the live events connected."""
    page.get_by_test_id("nav-models").click()
    page.get_by_test_id("models-page").wait_for()
    page.get_by_test_id(f"tab-{tab}").click()
    page.get_by_test_id(f"{tab}-tab").wait_for()
    page.wait_for_function("() => document.body.dataset.events === 'open'")


def job_row(page: Page, file: str) -> Locator:
    return page.locator(f"[data-testid=job-row][data-file='{file}']")


def check_page(page: Page, shots: Path | None = None, name: str = "") -> None:
    assert PAGE_ERRORS == []
    assert axe_problems(page) == []
    if shots is not None:
        shoot(page, shots, name)


def shoot_showing(page: Page, part: Locator, path: Path) -> None:
    """The 390 px shot again, scrolled to `part` (shoot() shows the top of the page)."""
    page.set_viewport_size({"width": 390, "height": 844})
    part.scroll_into_view_if_needed()
    page.wait_for_timeout(150)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_download_shows_live_progress_to_the_end_and_its_file(
        page: Page, hub: HubServer, shots: Path) -> None:
    size = model_file().stat().st_size
    name = model_file().name
    open_tab(page, "downloads")
    check_page(page)
    page.get_by_test_id("pull-start").click()                      # checked before sending
    expect(page.get_by_test_id("error-repo")).to_contain_text("required")
    page.get_by_test_id("field-repo").fill(REPO)
    page.get_by_test_id("field-quant").fill("Q9_9")
    page.get_by_test_id("pull-start").click()                      # the server's refusal
    expect(page.get_by_test_id("error-quant")).to_contain_text("Q9_9")

    hub.bytes_per_s = size // 4
    page.get_by_test_id("field-quant").fill("q4_1")
    page.get_by_test_id("pull-start").click()
    row = job_row(page, f"{REPO}/{name}")
    page.wait_for_function(
        """(sel) => { const row = document.querySelector(sel);
            const bar = row && row.querySelector('progress');
            return bar && bar.value > 5 && bar.value < 90; }""",
        arg=f"[data-testid=job-row][data-file='{REPO}/{name}']", timeout=WAIT_MS)
    expect(row.get_by_test_id("job-speed")).to_contain_text("/s")
    check_page(page, shots, "models-downloads")
    shoot_showing(page, row, shots / "web-ui-models-downloads-390.png")
    expect(row).to_have_attribute("data-status", "completed", timeout=WAIT_MS)
    expect(row.get_by_test_id("job-bytes")).to_contain_text("(100%)")

    page.get_by_test_id("tab-files").click()
    expect(page.locator(f"[data-testid=file-row][data-file='{REPO}/{name}']")).to_be_visible()


def test_cancel_retry_and_a_failed_download(page: Page, hub: HubServer, shots: Path) -> None:
    size = model_file().stat().st_size
    name = model_file().name
    open_tab(page, "downloads")
    hub.bytes_per_s = size // 30
    page.get_by_test_id("field-repo").fill(OTHER)
    page.get_by_test_id("field-filename").fill(name)
    page.get_by_test_id("pull-start").click()
    row = job_row(page, f"{OTHER}/{name}")
    expect(row).to_have_attribute("data-status", "running", timeout=WAIT_MS)
    row.get_by_test_id("job-cancel").click()
    expect(row).to_have_attribute("data-status", "cancelled", timeout=WAIT_MS)
    hub.bytes_per_s = None
    row.get_by_test_id("job-retry").click()
    expect(row).to_have_attribute("data-status", "completed", timeout=WAIT_MS)

    page.get_by_test_id("field-repo").fill("bodhi-test/missing")
    page.get_by_test_id("field-filename").fill(name)
    page.get_by_test_id("pull-start").click()
    failed = job_row(page, f"bodhi-test/missing/{name}")
    expect(failed).to_have_attribute("data-status", "error", timeout=WAIT_MS)
    expect(failed.get_by_test_id("job-error")).to_contain_text("not found")
    expect(failed.get_by_test_id("job-retry")).to_be_visible()
    check_page(page)


def alias_row(page: Page, alias: str) -> Locator:
    return page.locator(f"[data-testid=alias-row][data-alias='{alias}']")


def fill_alias_form(page: Page, **fields: str) -> None:
    for name, value in fields.items():
        page.get_by_test_id(f"field-{name}").fill(value)


def test_an_alias_made_in_the_form_answers_in_the_chat(page: Page, shots: Path) -> None:
    file = f"{REPO}/{model_file().name}"
    open_tab(page, "aliases")
    page.get_by_test_id("alias-new").click()
    page.get_by_test_id("alias-save").click()                       # checked before sending
    expect(page.get_by_test_id("error-alias")).to_contain_text("required")
    expect(page.get_by_test_id("error-repo")).to_contain_text("required")
    fill_alias_form(page, alias="my alias", temperature="3")
    page.get_by_test_id("alias-save").click()
    expect(page.get_by_test_id("error-alias")).to_contain_text("No spaces")
    expect(page.get_by_test_id("error-temperature")).to_contain_text("0 to 2")
    page.get_by_test_id("field-file").select_option(file)          # the picker fills both
    expect(page.get_by_test_id("field-repo")).to_have_value(REPO)
    fill_alias_form(page, alias="tiny-chat", temperature="0.2", max_tokens="6",
                    ctx_size="2048", context_params="--bogus-flag")
    page.get_by_test_id("alias-save").click()                       # the server refuses the flag
    expect(page.get_by_test_id("error-context_params")).to_contain_text("--bogus-flag")
    check_page(page, shots, "models-alias-form")
    fill_alias_form(page, context_params="")
    page.get_by_test_id("alias-save").click()
    row = alias_row(page, "tiny-chat")
    expect(row.get_by_test_id("alias-settings")).to_contain_text("max_tokens=6")
    expect(row.get_by_test_id("alias-settings")).to_contain_text("--ctx-size 2048")

    page.get_by_test_id("nav-chat").click()
    page.get_by_test_id("model-picker").select_option("tiny-chat")
    finished = "[data-testid=message][data-role=assistant]:not([aria-busy=true])"
    page.get_by_test_id("chat-input").fill("Write a very long story about a dragon.")
    page.get_by_test_id("chat-input").press("Enter")
    page.wait_for_function("(sel) => document.querySelectorAll(sel).length > 0", arg=finished,
                           timeout=90_000)
    reply = page.locator(finished).last.locator(".md").inner_text().split()
    assert 0 < len(reply) <= 8, reply                               # the alias's max_tokens


def test_edit_copy_and_delete_an_alias_with_the_servers_errors_at_their_fields(
        page: Page, owner: httpx.Client, shots: Path) -> None:
    open_tab(page, "aliases")
    row = alias_row(page, "tiny-chat")
    row.get_by_test_id("alias-edit").click()
    expect(page.get_by_test_id("field-max_tokens")).to_have_value("6")
    expect(page.get_by_test_id("field-ctx_size")).to_have_value("2048")
    fill_alias_form(page, temperature="0.5", stop="END")
    page.get_by_test_id("alias-save").click()
    expect(row.get_by_test_id("alias-settings")).to_contain_text("temperature=0.5")
    expect(row.get_by_test_id("alias-settings")).to_contain_text("stop=END")

    row.get_by_test_id("alias-copy").click()
    fill_alias_form(page, alias="tiny-chat")
    page.get_by_test_id("copy-save").click()                        # a duplicate: 409 at `alias`
    expect(page.get_by_test_id("error-alias")).to_contain_text("already exists")
    expect(page.get_by_test_id("field-alias")).to_be_focused()
    fill_alias_form(page, alias="tiny-copy")
    page.get_by_test_id("copy-save").click()
    copied = alias_row(page, "tiny-copy")
    expect(copied.get_by_test_id("alias-settings")).to_contain_text("temperature=0.5")

    made = owner.post(f"/bodhi/v1/models/alias/{MODEL}/copy", json={"alias": "from-outside"})
    assert made.status_code == 201, made.text
    expect(alias_row(page, "from-outside")).to_be_visible()         # live, no reload
    check_page(page, shots, "models-aliases")

    for name in ("tiny-copy", "from-outside"):
        alias_row(page, name).get_by_test_id("alias-delete").click()
        alias_row(page, name).get_by_test_id("alias-delete-confirm").click()
        expect(alias_row(page, name)).to_have_count(0)
    assert owner.get("/bodhi/v1/models/alias/tiny-copy").status_code == 404


def loaded_row(page: Page, alias: str) -> Locator:
    return page.locator(f"[data-testid=loaded-row][data-alias='{alias}']")


def test_load_and_unload_with_the_list_following_live(page: Page, owner: httpx.Client,
                                                      shots: Path) -> None:
    open_tab(page, "loaded")
    expect(loaded_row(page, "tiny-chat")).to_have_attribute("data-state", "ready")
    page.get_by_test_id("load-alias").select_option(MODEL)
    page.get_by_test_id("load-button").click()
    expect(loaded_row(page, MODEL)).to_have_attribute("data-state", "ready", timeout=WAIT_MS)
    check_page(page, shots, "models-loaded")

    gone = owner.post("/bodhi/v1/models/tiny-chat/unload")          # from outside the page
    assert gone.json()["unloaded"] is True
    expect(loaded_row(page, "tiny-chat")).to_have_count(0, timeout=WAIT_MS)
    loaded_row(page, MODEL).get_by_test_id("unload-button").click()
    expect(loaded_row(page, MODEL)).to_have_count(0, timeout=WAIT_MS)
    expect(page.get_by_test_id("nothing-loaded")).to_be_visible()
    check_page(page)


def test_files_show_their_details_and_can_be_deleted(page: Page, owner: httpx.Client,
                                                     shots: Path) -> None:
    name = model_file().name
    open_tab(page, "files")
    row = page.locator(f"[data-testid=file-row][data-file='{REPO}/{name}']")
    expect(row.get_by_test_id("file-aliases")).to_contain_text("tiny-chat")
    row.get_by_test_id("file-toggle").focus()                       # by keyboard
    page.keyboard.press("Enter")
    expect(row.get_by_test_id("file-toggle")).to_have_attribute("aria-expanded", "true")
    details = page.get_by_test_id("file-details")
    expect(details).to_contain_text("llama")
    expect(details).to_contain_text("Q4_1")
    expect(details).to_contain_text("8,192")
    check_page(page, shots, "models-files")

    other = page.locator(f"[data-testid=file-row][data-file='{OTHER}/{name}']")
    other.get_by_test_id("file-delete").focus()
    page.keyboard.press("Enter")
    expect(other.get_by_test_id("file-delete-confirm")).to_be_focused()
    page.keyboard.press("Enter")
    expect(other).to_have_count(0)
    files = owner.get("/bodhi/v1/models/files").json()["data"]
    assert [f["repo"] for f in files] == [REPO]
