"""The web UI at /ui/ in real Chromium, against the real companion and model: sign-in through the
owner link, the chat page (streaming, Stop that stops the server's generation, conversations
kept in IndexedDB, markdown that cannot run anything), the keyboard alone, axe-core, an expired
session, and the popup's *Open web UI*.

Screenshots of each page at 1280 and 390 px: see e2e/web_ui.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from companion.auth.sessions import SESSION_COOKIE
from e2e.conftest import Browser, owner_session
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion, wait_until
from tests.integration import fake_openai

pytestmark = pytest.mark.slow

LONG_ASK = "Write a very long story about a dragon and a knight, with many chapters."
REPLY_MS = 90_000


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def owner(companion: Companion) -> Iterator[httpx.Client]:
    with owner_session(companion) as client:
        yield client


def owner_link(companion: Companion) -> str:
    """A one-time owner sign-in link, as `bodhi open` prints it."""
    return companion.cli("open", "--no-browser").strip().splitlines()[-1]


def signed_in(browser: Browser, page: Page | None = None) -> Page:
    """A page signed in through a fresh owner link, on the chat page."""
    page = page or browser.context.new_page()
    page.bring_to_front()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(owner_link(browser.companion))
    page.wait_for_url(f"{browser.companion.url}/ui/chat")
    page.get_by_test_id("chat-input").wait_for()
    return page


def in_flight(owner: httpx.Client) -> int:
    loaded = owner.get("/bodhi/v1/models/loaded").json()["data"]
    return sum(int(m["in_flight"]) for m in loaded)


FINISHED = "[data-testid=message][data-role=assistant]:not([aria-busy=true])"


def ask(page: Page, text: str) -> int:
    """Sends `text` from the message box; returns how many replies had finished before."""
    before = page.locator(FINISHED).count()
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")
    return before


def last_reply(page: Page) -> Any:
    return page.locator(FINISHED).last


def reply_done(page: Page, before: int) -> None:
    """Waits until a reply more than `before` has finished (answered, stopped or failed)."""
    # A function, not an expression: the UI's CSP forbids eval, which an expression needs.
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length > n",
                           arg=[FINISHED, before], timeout=REPLY_MS)
    page.get_by_test_id("chat-send").wait_for(timeout=REPLY_MS)


def set_params(page: Page, **fields: str) -> None:
    if page.get_by_test_id("params").count() == 0:
        page.get_by_test_id("params-toggle").click()
    for name, value in fields.items():
        page.get_by_test_id(f"param-{name.replace('_', '-')}").fill(value)


def test_the_owner_link_lands_signed_in_on_the_chat(browser: Browser, shots: Path) -> None:
    page = browser.context.new_page()
    page.goto(browser.companion.url + "/ui/")
    page.wait_for_url("**/ui/sign-in")
    assert page.get_by_test_id("sign-in").get_attribute("data-mode") == "local"
    assert "bodhi open" in page.get_by_test_id("sign-in").inner_text()
    assert axe_problems(page) == []
    shoot(page, shots, "sign-in")

    signed_in(browser, page)

    assert page.get_by_test_id("user-role").inner_text() == "admin"
    assert page.get_by_test_id("nav-chat").get_attribute("aria-current") == "page"

    page.get_by_test_id("sign-out").click()
    page.wait_for_url("**/ui/sign-in")
    who = page.evaluate("() => fetch('/bodhi/v1/user').then((r) => r.json())")
    assert who == {"auth_status": "logged_out"}
    page.close()


def test_a_reply_streams_with_its_numbers_and_stop_ends_the_generation(
        browser: Browser, owner: httpx.Client, shots: Path) -> None:
    page = signed_in(browser)
    set_params(page, max_tokens="24", temperature="0.2")
    before = ask(page, "Say hello in five words.")
    reply_done(page, before)
    first = last_reply(page)
    assert first.locator(".md").inner_text().strip()
    assert float(first.get_by_test_id("stat-tps").inner_text().split()[0]) > 0
    assert first.get_by_test_id("stat-ttft").inner_text().endswith("s to first token")

    set_params(page, max_tokens="1500")
    before = ask(page, LONG_ASK)
    page.get_by_test_id("chat-stop").wait_for()
    page.wait_for_function("""() => {
        const all = document.querySelectorAll('[data-testid=message][data-role=assistant]');
        return all[all.length - 1].querySelector('.md').innerText.split(/\\s+/).length > 8; }""",
                           timeout=REPLY_MS)
    assert in_flight(owner) == 1, "the companion is not generating"
    page.get_by_test_id("chat-stop").click()

    # The stream was closed, so the companion stopped generating rather than finishing.
    assert wait_until(lambda: in_flight(owner) == 0, 5), "still generating after Stop"
    reply_done(page, before)
    stopped = last_reply(page)
    assert stopped.get_by_test_id("stat-stopped").is_visible()
    text = stopped.locator(".md").inner_text()
    page.wait_for_timeout(1000)
    assert stopped.locator(".md").inner_text() == text
    shoot(page, shots, "chat")
    assert axe_problems(page) == []
    page.close()


def test_conversations_are_kept_renamed_deleted_and_searched(browser: Browser) -> None:
    page = signed_in(browser)
    set_params(page, max_tokens="8")
    for words in ("Name a colour, quokka.", "Name a fruit, axolotl."):
        page.get_by_test_id("new-chat").click()
        page.wait_for_url("**/ui/chat")
        before = ask(page, words)
        reply_done(page, before)
    conversations = page.get_by_test_id("conversation")
    count = conversations.count()
    page.reload()
    page.get_by_test_id("chat-input").wait_for()

    assert conversations.count() == count
    assert page.get_by_test_id("conversation-title").inner_text() == "Name a fruit, axolotl."
    assert page.get_by_test_id("message").count() == 2

    fruit = conversations.filter(has_text="Name a fruit, axolotl.")
    fruit.get_by_test_id("conversation-rename").click()
    page.get_by_test_id("rename-input").fill("Fruit talk")
    page.get_by_test_id("rename-input").press("Enter")
    page.get_by_test_id("conversation-title").filter(has_text="Fruit talk").wait_for()

    titles = page.get_by_test_id("conversation-open")
    page.get_by_test_id("conversation-search").fill("QUOKKA")
    assert titles.all_inner_texts() == ["Name a colour, quokka."]
    page.get_by_test_id("conversation-search").fill("fruit talk")
    assert titles.all_inner_texts() == ["Fruit talk"]
    page.get_by_test_id("conversation-search").fill("")

    talk = conversations.filter(has_text="Fruit talk")
    talk.get_by_test_id("conversation-delete").click()
    talk.get_by_test_id("delete-confirm").click()
    page.wait_for_url("**/ui/chat")
    page.reload()
    page.get_by_test_id("chat-input").wait_for()
    assert conversations.count() == count - 1
    assert conversations.filter(has_text="Fruit talk").count() == 0
    page.close()


def test_an_error_from_the_server_is_shown_in_the_conversation(browser: Browser) -> None:
    page = signed_in(browser)
    set_params(page, system="hello " * 9000, max_tokens="8")   # more than the model's context
    before = ask(page, "Say hi.")
    reply_done(page, before)

    error = last_reply(page).get_by_test_id("message-error")
    assert "exceeds the available context size" in error.inner_text()
    assert error.get_attribute("role") == "alert"
    set_params(page, system="")
    before = ask(page, "Say hi.")                       # the conversation goes on
    reply_done(page, before)
    assert last_reply(page).get_by_test_id("message-error").count() == 0
    page.close()


def picker_groups(page: Page) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = page.get_by_test_id("model-picker").evaluate(
        """(select) => Object.fromEntries([...select.querySelectorAll('optgroup')].map(
            (g) => [g.label, [...g.querySelectorAll('option')].map((o) => o.value)]))""")
    return groups


def test_api_models_and_routers_are_in_the_picker_and_answer(
        browser: Browser, owner: httpx.Client) -> None:
    with fake_openai.serving() as fake:
        made = owner.post("/bodhi/v1/models/api", json={
            "id": "fake", "api_format": "openai", "base_url": fake.url,
            "api_key": fake_openai.KEY, "models": ["ok-1", "rate-limited"], "prefix": "fake/"})
        assert made.status_code == 201, made.text
        routed = owner.post("/bodhi/v1/models/router", json={
            "alias": "fast-or-local", "targets": ["fake/ok-1", "smollm2:135m"]})
        assert routed.status_code == 201, routed.text
        page = signed_in(browser)

        groups = picker_groups(page)
        assert {"fake/ok-1", "fake/rate-limited"} <= set(groups["API models"])
        assert groups["Routers"] == ["fast-or-local"]
        assert "smollm2:135m" in groups["Built in"]
        for model, said in (("fake/ok-1", "hi"), ("fast-or-local", "hi")):
            page.get_by_test_id("new-chat").click()
            page.get_by_test_id("model-picker").select_option(model)
            before = ask(page, "Say hi.")
            reply_done(page, before)
            assert last_reply(page).locator(".md").inner_text().strip() == said
            assert last_reply(page).get_by_test_id("message-error").count() == 0

        page.get_by_test_id("model-picker").select_option("fake/rate-limited")
        before = ask(page, "Say hi.")
        reply_done(page, before)
        assert "Rate limit" in last_reply(page).get_by_test_id("message-error").inner_text()
        assert fake.calls["ok-1"] == 2 and fake.calls["rate-limited"] == 1
        page.close()
        owner.delete("/bodhi/v1/models/router/fast-or-local")
        owner.delete("/bodhi/v1/models/api/fake")


HOSTILE = ("Here you go.\n\n<script>window.pwned = 'script'</script>\n\n"
           "[a link](javascript:window.pwned='link') and <a href=\"javascript:window.pwned="
           "'html-link'\">another</a>\n\n<img src=x onerror=\"window.pwned='onerror'\">\n\n"
           "<div onmouseover=\"window.pwned='hover'\">hover me</div>\n\n"
           "<iframe src=\"javascript:window.pwned='frame'\"></iframe>\n\n"
           "```python\ndef add(a, b):\n    return a + b\n```\n")


def sse(text: str) -> str:
    """An OpenAI chat stream that says `text`, a few characters at a time, then its usage."""
    chunks = [text[i:i + 12] for i in range(0, len(text), 12)]
    events = [{"id": "x", "object": "chat.completion.chunk", "model": "smollm2:135m",
               "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]}
              for c in chunks]
    events.append({"id": "x", "object": "chat.completion.chunk", "model": "smollm2:135m",
                   "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 40,
                                            "total_tokens": 45}})
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def test_markup_in_a_reply_is_inert(browser: Browser, shots: Path) -> None:
    page = signed_in(browser)

    def crafted(route: Route) -> None:
        route.fulfill(status=200, body=sse(HOSTILE),
                      headers={"Content-Type": "text/event-stream"})

    page.route("**/v1/chat/completions", crafted)
    before = ask(page, "Show me some markup.")
    reply_done(page, before)
    reply = last_reply(page)
    reply.locator("pre code.hljs").wait_for()
    reply.get_by_text("hover me").hover()
    links = reply.locator("a")
    for i in range(links.count()):
        links.nth(i).click(modifiers=["Shift"], no_wait_after=True)
    page.wait_for_timeout(500)

    assert page.evaluate("window.pwned") is None
    # The second wall: the page's CSP refuses an inline script even if one got through.
    blocked = page.evaluate("""() => new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation',
            (e) => resolve([window.pwned ?? null, e.violatedDirective]), {once: true});
        const s = document.createElement('script');
        s.textContent = "window.pwned = 'inline'";
        document.body.append(s);
        setTimeout(() => resolve([window.pwned ?? null, 'no violation']), 2000); })""")
    assert blocked == [None, "script-src-elem"]
    found = reply.evaluate("""(el) => ({
        scripts: el.querySelectorAll('script, iframe').length,
        js: [...el.querySelectorAll('[href], [src]')].filter((n) =>
            /^\\s*javascript:/i.test(n.getAttribute('href') ?? n.getAttribute('src'))).length,
        handlers: [...el.querySelectorAll('*')].filter((n) =>
            [...n.attributes].some((a) => a.name.startsWith('on'))).length })""")
    assert found == {"scripts": 0, "js": 0, "handlers": 0}
    assert reply.get_by_text("Here you go.").is_visible()
    browser.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                      origin=browser.companion.url)
    reply.get_by_test_id("copy-code").click()
    reply.get_by_test_id("copy-code").filter(has_text="Copied").wait_for()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == "def add(a, b):\n    return a + b\n"
    assert "tokens/s" in reply.inner_text()
    page.unroute("**/v1/chat/completions")
    page.close()


def focused(page: Page) -> str | None:
    testid: str | None = page.evaluate("document.activeElement?.dataset?.testid ?? null")
    return testid


def tab_to(page: Page, testid: str, *, back: bool = False, current: bool = False,
           limit: int = 80) -> None:
    """Tab (or Shift+Tab) until `testid` has the focus; `current`: the one in the open
    conversation's row."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if focused(page) == testid and (not current or page.evaluate(
                "!!document.activeElement.closest('li.current')")):
            return
    raise AssertionError(f"Tab never reached {testid}")


def test_the_chat_flow_works_with_the_keyboard_alone(browser: Browser) -> None:
    page = signed_in(browser)
    assert focused(page) == "chat-input"                # the page starts in the message box
    tab_to(page, "new-chat", back=True)
    page.keyboard.press("Enter")
    tab_to(page, "params-toggle")
    page.keyboard.press("Enter")
    tab_to(page, "param-max-tokens")
    page.keyboard.type("600")
    tab_to(page, "chat-input")
    page.keyboard.type(LONG_ASK)
    page.keyboard.press("Enter")
    page.get_by_test_id("chat-stop").wait_for()
    page.wait_for_function("""() => {
        const all = document.querySelectorAll('[data-testid=message][data-role=assistant]');
        return all[all.length - 1].querySelector('.md').innerText.length > 20; }""",
                           timeout=REPLY_MS)
    page.keyboard.press("Escape")                        # Esc in the message box stops
    reply_done(page, 0)
    assert last_reply(page).get_by_test_id("stat-stopped").is_visible()

    tab_to(page, "conversation-rename", back=True, current=True)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("rename-input")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("Kept by keyboard")
    page.keyboard.press("Enter")
    page.get_by_test_id("conversation-title").filter(has_text="Kept by keyboard").wait_for()
    expect(page.locator("li.current").get_by_test_id("conversation-rename")).to_be_focused()

    page.keyboard.press("Tab")                          # on to this conversation's delete
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("delete-confirm")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/chat")
    expect(page.get_by_test_id("conversation-open").filter(has_text="Kept by keyboard")
           ).to_have_count(0)
    page.close()


def test_an_expired_session_goes_to_sign_in_and_back(browser: Browser, shots: Path) -> None:
    page = signed_in(browser)
    set_params(page, max_tokens="8")
    before = ask(page, "Say yes.")
    reply_done(page, before)
    chat_path = page.url.removeprefix(browser.companion.url)
    assert chat_path.startswith("/ui/chat/")

    browser.context.clear_cookies(name=SESSION_COOKIE)
    ask(page, "Say no.")

    page.wait_for_url("**/ui/sign-in?next=*")
    assert page.get_by_test_id("sign-in-next").inner_text().endswith(f"{chat_path}.")
    page.goto(owner_link(browser.companion))
    page.wait_for_url(browser.companion.url + chat_path)
    page.get_by_test_id("conversation-title").filter(has_text="Say yes.").wait_for()
    page.close()


def test_the_popup_opens_the_web_ui_signed_in(browser: Browser, shots: Path) -> None:
    browser.context.clear_cookies(name=SESSION_COOKIE)
    browser.set_server_url(browser.companion.url)
    popup = browser.popup()
    button = popup.get_by_test_id("open-web-ui")
    button.wait_for()

    with browser.context.expect_page(timeout=60_000) as opened:
        button.click()
    page = opened.value
    page.wait_for_url(f"{browser.companion.url}/ui/chat", timeout=60_000)

    page.get_by_test_id("chat-input").wait_for()
    assert page.get_by_test_id("user-role").inner_text() == "admin"
    if page.get_by_test_id("conversation-open").count() == 0:   # run alone: make one
        set_params(page, max_tokens="8")
        reply_done(page, ask(page, "Say hello."))
    page.get_by_test_id("conversation-open").first.click()   # the newest conversation
    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert axe_problems(page) == []                     # the dark colours keep their contrast
    shoot(page, shots, "chat-dark")
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_test_id("list-toggle").click()          # the narrow layout's conversation list
    page.get_by_test_id("conversation-search").wait_for()
    assert axe_problems(page) == []
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_test_id("theme-toggle").click()
    page.close()
    popup.close()
