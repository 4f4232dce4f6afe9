"""window.bodhi.LanguageModel (Chrome's Prompt API shape) in real Chromium against the real
companion and model: availability, create (consent in the extension's window), prompt,
promptStreaming stopped by an abort, append, clone, destroy, token usage, a JSON-schema
constrained answer; the options page's window.LanguageModel setting; and the consent window
narrowing a site's models and picking its default model. With E2E_SCREENSHOTS=<folder> it
saves that consent window and the options page, wide and narrow."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Page

from companion.models.catalog import embedded_model
from e2e.conftest import REQUEST_ACCESS, Browser, access_outcome, owner_session
from tests.conftest import wait_until
from tests.integration.test_openai_api import _cache_model

pytestmark = pytest.mark.slow

EMBEDDED = "smollm2:135m"
SHORT, OTHER = "smol-short", "smol-other"     # two more aliases of the same small model
OTHER_CTX = 4096                               # room for a long answer to abort
CAP = 384                                      # tokens per answer: still long enough to abort
SHOTS = os.environ.get("E2E_SCREENSHOTS")

CREATE = """(options) => {
    window.created = undefined;
    window.progress = [];
    window.bodhi.LanguageModel.create({...options, monitor(m) {
        m.addEventListener('downloadprogress', (e) => window.progress.push(e.loaded));
    }}).then((session) => { window.session = session; window.created = {ok: true}; },
             (error) => { window.created = {error: [error.name, error.message]}; });
}"""

USAGE = "() => ({usage: window.session.inputUsage, quota: window.session.inputQuota})"

# Starts a long answer and returns its first piece; the rest is read into window.rest.
STREAM_START = """async () => {
    window.stopper = new AbortController();
    const stream = window.session.promptStreaming(
        'Write a very long story about a lighthouse keeper, at least forty sentences.',
        {signal: window.stopper.signal});
    const reader = stream.getReader();
    const first = await reader.read();
    window.rest = (async () => {
        try {
            while (!(await reader.read()).done) {}
            return 'ended normally';
        } catch (e) {
            return e.name;
        }
    })();
    return first.value;
}"""

PERSON = {"type": "object", "properties": {"name": {"type": "string"},
                                           "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.fixture(scope="module")
def browser_args() -> list[str]:
    """Chromium without its own Prompt API (it ships one since 148): a browser where
    window.LanguageModel may be installed."""
    return ["--disable-features=AIPromptAPI"]


@pytest.fixture(scope="module")
def aliases(paired: Browser) -> list[str]:
    """Two aliases of the embedded model besides its own name, with contexts of their own."""
    model = embedded_model()
    assert model is not None, "the embedded model is not installed: run scripts/install"
    home = paired.companion
    _cache_model(home.hf_home, model.path, "test-org/smol", "c0ffee")
    # A cap on each answer: the small model now and then rambles until its context is full
    # (about 1 answer in 20 to "Say bye."), which takes minutes on a slow machine.
    for name, params in ((SHORT, ["--ctx-size 1024", "--parallel 1", f"--n-predict {CAP}"]),
                         (OTHER, [f"--ctx-size {OTHER_CTX}", "--parallel 1",
                                  f"--n-predict {CAP}"])):
        (home.home / "aliases" / f"{name}.yaml").write_text(yaml.safe_dump(
            {"alias": name, "repo": "test-org/smol", "filename": model.path.name,
             "context_params": params}))
    return [SHORT, OTHER]


@pytest.fixture(scope="module")
def owner(paired: Browser) -> Iterator[httpx.Client]:
    with owner_session(paired.companion) as client:
        yield client


def screenshots(page: Page, name: str) -> None:
    """`name`-wide.png at 1280 px and `name`-narrow.png at 360 px, when SHOTS names a folder."""
    for label, width in (("wide", 1280), ("narrow", 360)):
        if SHOTS:
            page.set_viewport_size({"width": width, "height": 800})
            page.screenshot(path=str(Path(SHOTS) / f"{name}-{label}.png"), full_page=True)


def in_flight(owner: httpx.Client) -> int:
    loaded = owner.get("/bodhi/v1/models/loaded").json()["data"]
    return sum(int(m["in_flight"]) for m in loaded)


def consent_for(browser: Browser, page: Page, script: str, arg: Any) -> Page:
    with browser.context.expect_page() as opened:
        page.evaluate(script, arg)
    consent = opened.value
    consent.wait_for_selector("body[data-ready=true]")
    return consent


def created(page: Page) -> dict[str, Any]:
    page.wait_for_function("window.created !== undefined", timeout=120_000)
    outcome: dict[str, Any] = page.evaluate("window.created")
    return outcome


def test_a_session_runs_the_whole_prompt_api_flow(
        paired: Browser, aliases: list[str], owner: httpx.Client,
        new_page: Callable[..., Page]) -> None:
    page = new_page()
    assert page.evaluate("window.bodhi.LanguageModel.availability()") == "downloadable"
    consent = consent_for(paired, page, CREATE, {"initialPrompts": [
        {"role": "system", "content": "You are terse. Answer in a few words."},
        {"role": "user", "content": "What colour is the sky?"},
        {"role": "assistant", "content": "Blue."}]})
    consent.get_by_test_id("consent-default-model").select_option(OTHER)
    consent.get_by_test_id("consent-allow-once").click()

    assert created(page) == {"ok": True}
    assert page.evaluate("window.progress") == [0, 1]
    assert page.evaluate("window.bodhi.LanguageModel.availability()") == "available"
    start = page.evaluate(USAGE)
    assert start["quota"] == OTHER_CTX                    # the alias's --ctx-size
    assert 10 < start["usage"] < 200

    answer = page.evaluate("window.session.prompt('And the grass? One word.')")
    assert isinstance(answer, str) and answer.strip()
    after_prompt = page.evaluate(USAGE)["usage"]
    assert after_prompt > start["usage"]

    added = page.evaluate("window.session.measureInputUsage('Remember the word lighthouse.')")
    assert 3 < added < 40
    assert page.evaluate(USAGE)["usage"] == after_prompt       # measuring adds nothing
    page.evaluate("window.session.append('Remember the word lighthouse.')")
    assert page.evaluate(USAGE)["usage"] == after_prompt + added

    clone = page.evaluate("""async () => {
        window.copy = await window.session.clone();
        const same = window.copy.inputUsage === window.session.inputUsage;
        await window.copy.prompt('Say hi.');
        return {same, copy: window.copy.inputUsage, original: window.session.inputUsage};
    }""")
    assert clone["same"] is True
    assert clone["copy"] > clone["original"] == after_prompt + added

    assert page.evaluate(STREAM_START)
    assert in_flight(owner) == 1                          # the model is still writing
    assert page.evaluate("window.stopper.abort(), window.rest") == "AbortError"
    assert wait_until(lambda: in_flight(owner) == 0, timeout=10, interval=0.1)
    assert page.evaluate(USAGE)["usage"] == after_prompt + added    # nothing was kept

    person = page.evaluate("""(schema) => window.session.prompt(
        'Invent a person. Give their name and age as JSON.', {responseConstraint: schema})""",
                           PERSON)
    parsed = json.loads(person)
    assert set(parsed) == {"name", "age"}
    assert isinstance(parsed["name"], str) and isinstance(parsed["age"], int)

    gone = page.evaluate("""async () => {
        window.session.destroy();
        const tries = [window.session.prompt('hi'), window.session.append('hi'),
                       window.session.clone(), window.session.measureInputUsage('hi')];
        const names = [];
        for (const t of tries) names.push(await t.then(() => 'ok', (e) => e.name));
        return {names, copy: await window.copy.prompt('Say bye.').then(() => 'ok')};
    }""")
    assert gone == {"names": ["InvalidStateError"] * 4, "copy": "ok"}


def test_window_language_model_follows_the_setting(paired: Browser,
                                                   new_page: Callable[..., Page]) -> None:
    def set_global(on: bool) -> None:
        options = paired.extension_page("options/options.html")
        options.wait_for_selector("body[data-ready=true]")
        box = options.get_by_test_id("global-language-model")
        assert box.is_checked() is (not on)
        box.set_checked(on)
        options.get_by_test_id("settings-status").filter(has_text="Saved").wait_for()
        if on:
            screenshots(options, "options-language-model")
        options.close()

    off = new_page("/prompt.html")
    assert off.evaluate("window.seen.languageModelAtFirstScript") is False
    assert off.evaluate("'LanguageModel' in window") is False

    set_global(True)
    on = new_page("/prompt.html")
    assert on.evaluate("window.seen.languageModelAtFirstScript") is True
    assert on.evaluate("window.LanguageModel === window.bodhi.LanguageModel") is True
    assert on.evaluate("typeof window.LanguageModel.create") == "function"

    set_global(False)
    assert new_page("/prompt.html").evaluate("'LanguageModel' in window") is False


def test_consent_narrows_models_and_sets_the_default(
        paired: Browser, aliases: list[str], new_page: Callable[..., Page]) -> None:
    page = new_page()
    consent = consent_for(paired, page, REQUEST_ACCESS,
                          {"scopes": ["chat", "models", "embeddings"]})
    offered = consent.locator("input[data-model]").evaluate_all(
        "(boxes) => boxes.map((b) => b.dataset.model)")
    assert {EMBEDDED, SHORT, OTHER} <= set(offered)
    assert consent.get_by_test_id("consent-models-note").inner_text().startswith("Any of")
    for model in offered:
        if model not in (EMBEDDED, SHORT):
            consent.get_by_test_id(f"model-{model}").uncheck()
    select = consent.get_by_test_id("consent-default-model")
    assert sorted(select.locator("option").all_inner_texts()) == sorted([EMBEDDED, SHORT])
    select.select_option(EMBEDDED)                        # not the grant's first (sorted) model
    screenshots(consent, "consent-models")
    consent.get_by_test_id("consent-allow-once").click()

    result = access_outcome(page)["result"]
    assert sorted(result["models"]) == sorted([EMBEDDED, SHORT])
    listed = page.evaluate("window.bodhi.models.list()")
    assert sorted(m["id"] for m in listed["data"]) == sorted(result["models"])
    reply = page.evaluate("""() => window.bodhi.chat({max_tokens: 4,
        messages: [{role: 'user', content: 'Hi'}]})""")
    assert reply["model"] == EMBEDDED
    vectors = page.evaluate("() => window.bodhi.embeddings.create({input: 'Hi'})")
    assert vectors["model"] == EMBEDDED and vectors["data"][0]["embedding"]
    refused = page.evaluate("""(model) => window.bodhi.chat({model, max_tokens: 4,
        messages: [{role: 'user', content: 'Hi'}]}).then(() => 'ok', (e) => e.code)""", OTHER)
    assert refused != "ok"
    popup = paired.popup()
    line = popup.locator(f"[data-testid=grant][data-origin='{page.evaluate('location.origin')}']")
    assert f"default {EMBEDDED}" in line.inner_text()
    popup.close()
