"""Pairing by code in real Chromium, after a web page tried to burn the code.

The attack: any page may POST to the public pairing endpoint with ``mode: 'no-cors'`` and a
text/plain body (no preflight); ten wrong codes used to cancel the owner's open code. Now the
companion refuses such requests before counting them, and the popup still pairs with the code
that ``bodhi pair`` printed, through the background's JSON request from the extension's own
origin.
"""

from __future__ import annotations

from e2e.conftest import Browser, PageServer

PAIR = "/bodhi/v1/apps/extension/pair"
PAGE_GUESSES = 12

BURN_FROM_PAGE = """async ({url, count}) => {
    for (let n = 0; n < count; n++) {
        await fetch(url, {method: 'POST', mode: 'no-cors',
                          body: JSON.stringify({code: `ZZZZ-${1000 + n}`})});
    }
    try {
        await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                          body: JSON.stringify({code: 'ZZZZ-9999'})});
        return 'json sent';
    } catch (e) {
        return 'json blocked';
    }
}"""


SETTLED = """() => {
    const text = (id) => document.querySelector(`[data-testid=${id}]`).textContent;
    return text('pair-state').startsWith('Paired') || text('popup-error') !== '';
}"""


def pair_with_code(browser: Browser, code: str) -> tuple[str, str]:
    """Type the code into the popup; its pairing state and error once one of them shows."""
    popup = browser.popup()
    popup.get_by_test_id("pair-code").fill(code)
    popup.get_by_test_id("pair-code-submit").click()
    popup.wait_for_function(SETTLED)
    shown = (popup.get_by_test_id("pair-state").inner_text(),
             popup.get_by_test_id("popup-error").inner_text())
    popup.close()
    return shown


def test_a_page_cannot_burn_the_code_the_popup_pairs_with(
        browser: Browser, origins: tuple[PageServer, PageServer]) -> None:
    browser.set_server_url(browser.companion.url)
    code = browser.companion.cli("pair").strip().splitlines()[-1]
    page = browser.open(origins[0].origin)

    outcome = page.evaluate(BURN_FROM_PAGE, {"url": browser.companion.url + PAIR,
                                             "count": PAGE_GUESSES})
    refused = browser.companion.log_text().count(f"POST {PAIR} 403")
    state, error = pair_with_code(browser, code)

    assert (state, error) == ("Paired with the companion", "")
    assert outcome == "json blocked"         # the preflight gets no CORS answer
    assert refused >= PAGE_GUESSES           # the page's posts reached the companion
