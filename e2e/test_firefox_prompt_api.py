"""The Prompt API shape in Firefox ESR (which has no LanguageModel of its own): with the
options page's setting on, window.LanguageModel is window.bodhi.LanguageModel from the page's
first script, and a session prompts, streams and stops on an abort with the real model."""

from __future__ import annotations

import pytest
from selenium import webdriver

from e2e.conftest import PageServer
from e2e.test_firefox import (  # noqa: F401  (fixtures)
    allow_once,
    by_testid,
    driver,
    firefox_build,
    open_extension_page,
    set_server_url,
    wait_for,
)
from tests.conftest import Companion

pytestmark = pytest.mark.slow

SESSION = """return (async () => {
    const LM = window.LanguageModel;
    const availability = await LM.availability();
    const session = await LM.create({initialPrompts: [
        {role: 'system', content: 'You are terse.'}]});
    const answer = await session.prompt('Name a colour. One word.');
    const stopper = new AbortController();
    const reader = session.promptStreaming('Write a very long story about the sea.',
        {signal: stopper.signal}).getReader();
    const first = await reader.read();
    stopper.abort();
    let ended = 'normally';
    try { while (!(await reader.read()).done) {} } catch (e) { ended = e.name; }
    return {availability, answer, first: first.value, ended,
            usage: session.inputUsage, quota: session.inputQuota};
})()"""


def pair_by_code(firefox: webdriver.Firefox, companion: Companion) -> None:
    set_server_url(firefox, companion.url)
    open_extension_page(firefox, "popup/popup.html?details=1")
    wait_for(lambda: firefox.execute_script("return document.body?.dataset.rendered"), "popup")
    by_testid(firefox, "pair-code").send_keys(companion.cli("pair").strip().splitlines()[-1])
    by_testid(firefox, "pair-code-submit").click()
    wait_for(lambda: "Paired" in by_testid(firefox, "pair-state").text, "pairing by code")


def test_window_language_model_and_a_session_in_firefox(
        driver: webdriver.Firefox, companion: Companion,  # noqa: F811
        origins: tuple[PageServer, PageServer]) -> None:
    pair_by_code(driver, companion)
    open_extension_page(driver, "options/options.html")
    wait_for(lambda: driver.execute_script("return document.body?.dataset.ready"), "options")
    by_testid(driver, "global-language-model").click()
    wait_for(lambda: "Saved" in by_testid(driver, "settings-status").text, "saved setting")

    site = origins[0].origin
    driver.get(site + "/prompt.html")
    wait_for(lambda: driver.execute_script("return window.seen"), "the page")
    assert driver.execute_script("return window.seen.languageModelAtFirstScript") is True
    assert driver.execute_script(
        "return window.LanguageModel === window.bodhi.LanguageModel") is True

    assert allow_once(driver, site)["result"]["granted"] is True
    result = driver.execute_script(SESSION)

    assert result["availability"] == "available"
    assert result["answer"].strip() and result["first"]
    assert result["ended"] == "AbortError"
    assert 0 < result["usage"] < result["quota"]
