"""The consent flow end to end: pairing through the native host, allow once, streaming and
plain chat from the real model, deny (button and closing), isolation between origins, abort
stopping the generation on the server, and revoke from the popup."""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page

from e2e.conftest import Browser, PageServer, access_outcome, ask_access, consent_windows
from tests.conftest import Companion, wait_until

MESSAGES = [{"role": "user", "content": "Tell me a long story about a lighthouse."}]

CALL_CODES = """async () => {
    const out = {};
    const calls = {
        chat: () => window.bodhi.chat({messages: [{role: 'user', content: 'hi'}], max_tokens: 4}),
        models: () => window.bodhi.models.list(),
        token: () => window.bodhi.getToken(),
    };
    for (const [name, call] of Object.entries(calls)) {
        try { await call(); out[name] = 'ok'; } catch (e) { out[name] = e.code; }
    }
    return out;
}"""


@pytest.fixture(scope="module")
def page_a(paired: Browser, origins: tuple[PageServer, PageServer]) -> Iterator[Page]:
    page = paired.open(origins[0].origin)
    yield page
    page.close()


@pytest.fixture(scope="module")
def page_b(paired: Browser, origins: tuple[PageServer, PageServer]) -> Iterator[Page]:
    page = paired.open(origins[1].origin)
    yield page
    page.close()


def test_pairing_makes_the_companion_ready(paired: Browser, page_a: Page) -> None:
    state = page_a.evaluate("window.bodhi.serverState()")

    assert state["status"] == "ready"
    assert state["url"] == paired.companion.url


def test_the_consent_window_shows_origin_reason_and_scopes(
        paired: Browser, fresh_page: Page) -> None:
    consent = ask_access(paired, fresh_page, {"scopes": ["chat", "models"], "reason": "To test"})

    origin = fresh_page.evaluate("location.origin")
    assert origin in consent.get_by_test_id("consent-origin").inner_text()
    assert consent.get_by_test_id("consent-reason").inner_text() == "To test"
    assert consent.get_by_test_id("scope-chat").is_checked()
    assert consent.get_by_test_id("scope-models").is_checked()
    assert consent.get_by_test_id("scope-embeddings").count() == 0
    consent.get_by_test_id("consent-deny").click()

    assert access_outcome(fresh_page) == {"error": ["BodhiError", "access_denied"]}


def test_closing_the_consent_window_denies(paired: Browser, fresh_page: Page) -> None:
    consent = ask_access(paired, fresh_page, {"scopes": ["chat"]})

    consent.close()

    assert access_outcome(fresh_page) == {"error": ["BodhiError", "access_denied"]}


def test_allow_once_then_streaming_and_plain_chat(paired: Browser, page_a: Page) -> None:
    consent = ask_access(paired, page_a, {"scopes": ["chat", "models"]})
    consent.get_by_test_id("consent-allow-once").click()

    outcome = access_outcome(page_a)
    assert outcome["result"]["granted"] is True
    assert outcome["result"]["scopes"] == ["chat", "models"]
    assert outcome["result"]["expires_at"] is not None          # allow once expires

    chunks = page_a.evaluate("""async (messages) => {
        const chunks = [];
        const stream = await window.bodhi.chat({messages, stream: true, max_tokens: 24});
        for await (const chunk of stream) chunks.push(chunk);
        return chunks;
    }""", MESSAGES)
    assert len(chunks) >= 3
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.strip()

    reply = page_a.evaluate("""(messages) => window.bodhi.chat.completions.create(
        {messages, max_tokens: 8})""", MESSAGES)
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["role"] == "assistant"
    models = page_a.evaluate("window.bodhi.models.list()")
    assert "smollm2:135m" in [m["id"] for m in models["data"]]


def test_another_origin_gets_nothing_from_the_grant(page_a: Page, page_b: Page) -> None:
    assert page_a.evaluate(CALL_CODES) == {"chat": "ok", "models": "ok", "token": "ok"}
    assert page_b.evaluate(CALL_CODES) == {"chat": "not_granted", "models": "not_granted",
                                           "token": "not_granted"}


def test_no_page_api_can_approve_a_request(paired: Browser, fresh_page: Page) -> None:
    consent = ask_access(paired, fresh_page, {"scopes": ["chat"]})
    request_id = consent.evaluate("new URLSearchParams(location.search).get('request')")

    tried = fresh_page.evaluate("""(id) => new Promise((resolve) => {
        const answers = [];
        window.addEventListener('message', (e) => {
            if (e.data?.channel === 'bodhi:content->page' && e.data.id.startsWith('evil'))
                answers.push(e.data.error?.code);
            if (answers.length === 2)
                resolve({answers, runtime: typeof window.chrome?.runtime?.sendMessage});
        });
        for (const [n, action] of [['evil1', 'approve'], ['evil2', 'pairCode']])
            window.postMessage({channel: 'bodhi:page->content', id: n, type: 'request', action,
                                params: {id, scopes: ['chat'], remember: true}}, location.origin);
    })""", request_id)

    assert tried == {"answers": ["api_error", "api_error"], "runtime": "undefined"}
    review = consent.evaluate("(id) => window.document.body.dataset.ready", request_id)
    assert review == "true"                                       # still waiting for the user
    consent.get_by_test_id("consent-deny").click()
    assert access_outcome(fresh_page) == {"error": ["BodhiError", "access_denied"]}


def test_one_consent_window_per_origin_at_a_time(paired: Browser, fresh_page: Page) -> None:
    consent = ask_access(paired, fresh_page, {"scopes": ["chat"]})

    second = fresh_page.evaluate("""() => Promise.race([
        window.bodhi.requestAccess({scopes: ['chat']}).then(
            () => 'granted', (error) => [error.name, error.code]),
        new Promise((resolve) => setTimeout(() => resolve('another window opened'), 5000))])""")

    assert second == ["BodhiError", "api_error"]
    assert len(consent_windows(paired)) == 1
    consent.get_by_test_id("consent-deny").click()
    assert access_outcome(fresh_page) == {"error": ["BodhiError", "access_denied"]}


def _slots_busy(companion: Companion) -> bool:
    busy = False
    for child in companion.children():
        args = child.cmdline()
        if "--port" not in args:
            continue
        port = args[args.index("--port") + 1]
        # A child answers only with its key, which is in its environment (same OS user).
        key = {"Authorization": f"Bearer {child.environ()['LLAMA_API_KEY']}"}
        slots = httpx.get(f"http://127.0.0.1:{port}/slots", headers=key, timeout=5).json()
        busy = busy or any(slot.get("is_processing") for slot in slots)
    return busy


def test_aborting_a_stream_stops_the_generation(paired: Browser, page_a: Page) -> None:
    page_a.evaluate("""(messages) => {
        window.aborter = new AbortController();
        window.streamed = {chunks: 0, error: null};
        (async () => {
            try {
                const stream = await window.bodhi.chat({messages, stream: true, max_tokens: 4000,
                                                        temperature: 1.0},
                                                       {signal: window.aborter.signal});
                for await (const chunk of stream) window.streamed.chunks += 1;
            } catch (e) { window.streamed.error = e.code; }
        })();
    }""", MESSAGES)
    page_a.wait_for_function("window.streamed.chunks >= 3", timeout=120_000)
    assert _slots_busy(paired.companion)

    page_a.evaluate("window.aborter.abort()")

    page_a.wait_for_function("window.streamed.error !== null")
    assert page_a.evaluate("window.streamed.error") == "aborted"
    assert wait_until(lambda: not _slots_busy(paired.companion), timeout=20, interval=0.25)


def test_revoke_in_the_popup_fails_the_next_call_and_the_token(
        paired: Browser, page_a: Page, origins: tuple[PageServer, PageServer]) -> None:
    token = page_a.evaluate("window.bodhi.getToken()")["access_token"]
    url = paired.companion.url + "/v1/models"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    popup = paired.popup()
    grant = popup.locator(f"[data-testid=grant][data-origin='{origins[0].origin}']")

    grant.get_by_test_id("grant-revoke").click()

    grant.wait_for(state="detached")
    assert page_a.evaluate(CALL_CODES) == {"chat": "not_granted", "models": "not_granted",
                                           "token": "not_granted"}
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_embeddings_through_the_extension_after_a_grant(paired: Browser, page_b: Page) -> None:
    consent = ask_access(paired, page_b, {"scopes": ["embeddings"],
                                          "models": ["smollm2:135m"]})
    assert consent.get_by_test_id("scope-embeddings").is_checked()
    consent.get_by_test_id("consent-allow-once").click()
    assert access_outcome(page_b)["result"]["scopes"] == ["embeddings"]

    reply = page_b.evaluate("""() => window.bodhi.embeddings.create(
        {model: 'smollm2:135m', input: ['a lighthouse by the sea', 'tax forms in March']})""")
    refused = page_b.evaluate("""() => window.bodhi.chat({messages: [{role: 'user',
        content: 'hi'}], max_tokens: 2}).then(() => 'ok', (e) => e.code)""")

    assert reply["object"] == "list" and reply["model"] == "smollm2:135m"
    first, second = (item["embedding"] for item in sorted(reply["data"],
                                                          key=lambda d: d["index"]))
    assert len(first) == len(second) >= 128
    assert all(isinstance(x, float) and math.isfinite(x) for x in first + second)
    assert any(x != 0.0 for x in first) and first != second
    assert refused == "api_error"                     # chat was not granted to this origin
    page_b.evaluate("window.bodhi.revoke()")
