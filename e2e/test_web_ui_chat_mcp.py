"""MCP tools in the web UI's chat, end to end: a real MCP server (the mcp SDK's MCPServer) on
loopback, the owner's instance of it made through the API, and the tool-capable alias
`smol-tools` (the SmolLM2 file with tests/integration/qwen_tools.jinja). The page offers the
instance's tools to the model, runs the model's call through the companion's MCP proxy, shows
it (collapsed, open to arguments and result), and sends the result back; with approval on, a
call waits for Run or Skip, and Skip tells the model the user declined.

SmolLM2-135M does not call tools by itself, and this llama.cpp build does not hold it to
tool_choice "required", so the tests start its reply with the opening of a call ("Start the
reply with": `<tool_call>` and a new line); the model writes the call (which tool, which
arguments) and llama.cpp parses it into `tool_calls`. The requests the page sends are
observed (not changed) to check what reached the model; what the model says is not checked.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Page, Request, expect

from companion.models.catalog import embedded_model
from e2e.conftest import Browser, add_mcp_server, owner_session
from e2e.test_web_ui import FINISHED, REPLY_MS, ask, focused, set_params, signed_in
from e2e.web_ui import axe_problems, shoot, shots_folder
from tests.conftest import Companion
from tests.integration.test_openai_api import _cache_model
from tests.mcp_servers import serving
from tests.mcp_servers.words import MARK

pytestmark = pytest.mark.slow

ALIAS = "smol-tools"
TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "integration" / "qwen_tools.jinja"
DECLINED = "The user declined to run this tool call."


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shots_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def calls_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("words") / "calls.jsonl"


@pytest.fixture(scope="module")
def instance(companion: Companion, calls_log: Path) -> Iterator[dict[str, Any]]:
    """The words server on loopback, the owner's instance of it, and the tools alias."""
    model = embedded_model()
    assert model is not None, "the embedded model is not installed: run scripts/install"
    _cache_model(companion.hf_home, model.path, "test-org/smol", "c0ffee")
    flags = shlex.join(["--chat-template", TEMPLATE.read_text()])
    (companion.home / "aliases" / f"{ALIAS}.yaml").write_text(yaml.safe_dump(
        {"alias": ALIAS, "repo": "test-org/smol", "filename": model.path.name,
         "context_params": ["--ctx-size 2048", "--parallel 1", flags]}))
    with serving("words", "--log", str(calls_log)) as base, owner_session(companion) as owner:
        made = add_mcp_server(owner, "words", base + "/mcp", instance="dictionary")["instance"]
        tools = owner.get(f"/bodhi/v1/mcps/{made['id']}/tools")
        assert tools.status_code == 200, tools.text
        assert {t["name"] for t in tools.json()["tools"]} == {"lookup_word", "add"}
        yield made


def answered(page: Page, before: int) -> None:
    """Waits until the answer to the last message is complete: its first reply has finished
    and the tools loop has ended (Send is back), each bounded as one reply is."""
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length > n",
                           arg=[FINISHED, before], timeout=REPLY_MS)
    page.get_by_test_id("chat-send").wait_for(timeout=REPLY_MS)


def server_calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


class Observed:
    """The chat and MCP requests the page sends, as sent (observed, not intercepted)."""

    def __init__(self, page: Page) -> None:
        self.chats: list[dict[str, Any]] = []
        self.mcp: list[dict[str, Any]] = []
        page.on("request", self.seen)

    def seen(self, request: Request) -> None:
        if request.method != "POST" or not request.post_data:
            return
        if request.url.endswith("/v1/chat/completions"):
            self.chats.append(json.loads(request.post_data))
        elif request.url.endswith("/mcp") and "/bodhi/v1/mcps/" in request.url:
            self.mcp.append({"url": request.url, **json.loads(request.post_data)})


@pytest.fixture(scope="module")
def page(browser: Browser, instance: dict[str, Any]) -> Iterator[Page]:
    page = signed_in(browser)
    page.get_by_test_id("model-picker").select_option(ALIAS)
    set_params(page, temperature="0", max_tokens="40", stop="</tool_call>",
               prefill="<tool_call>\n")
    page.get_by_test_id("param-confirm-tools").uncheck()
    yield page
    page.close()


def test_the_panel_lists_instances_and_their_allowed_tools(
        page: Page, instance: dict[str, Any], shots: Path) -> None:
    page.get_by_test_id("tools-toggle").click()
    expect(page.get_by_test_id("params")).to_have_count(0)         # one panel at a time
    panel = page.get_by_test_id("mcp-panel")
    box = panel.locator(f"[data-testid=mcp-instance][data-id='{instance['id']}']")
    expect(panel.get_by_test_id("mcp-instance-tools")).to_have_text("lookup_word, add")
    expect(page.get_by_test_id("mcp-tool-first")).to_be_disabled()
    box.check()
    page.get_by_test_id("mcp-tool-first").check()
    expect(page.get_by_test_id("tools-toggle")).to_have_text("Tools (1)")
    assert axe_problems(page) == []
    shoot(page, shots, "chat-mcp-panel")


def test_a_tool_call_runs_through_the_proxy_and_its_result_goes_back(
        page: Page, instance: dict[str, Any], calls_log: Path, shots: Path) -> None:
    observed = Observed(page)
    answered(page, ask(page, "Look up the word bodhi."))

    assert [c["tool"] for c in server_calls(calls_log)] == ["lookup_word"]
    proxy = f"/bodhi/v1/mcps/{instance['id']}/mcp"
    assert [m["method"] for m in observed.mcp] == [
        "initialize", "notifications/initialized", "tools/call"]
    assert all(m["url"].endswith(proxy) for m in observed.mcp)
    assert observed.mcp[2]["params"]["name"] == "lookup_word"

    first, second = observed.chats[0], observed.chats[1]
    assert {t["function"]["name"] for t in first["tools"]} == {"lookup_word", "add"}
    assert first["tool_choice"] == "required" and "tool_choice" not in second
    assert first["messages"][-1] == {"role": "assistant", "content": "<tool_call>\n"}
    called = second["messages"][-2]
    assert called["role"] == "assistant" and called["tool_calls"][0]["function"]["name"] == (
        "lookup_word")
    result = second["messages"][-1]
    assert result["role"] == "tool" and result["tool_call_id"] == called["tool_calls"][0]["id"]
    assert MARK in result["content"]

    call = page.get_by_test_id("tool-call")
    expect(call).to_have_attribute("data-status", "ok")
    expect(call.get_by_test_id("tool-status")).to_have_text("done")
    expect(call.get_by_test_id("tool-result")).to_be_hidden()       # collapsed at first
    call.locator("summary").click()
    expect(call.get_by_test_id("tool-result")).to_contain_text(MARK)
    expect(call.get_by_test_id("tool-arguments")).to_contain_text('"word"')
    assert axe_problems(page) == []
    page.get_by_test_id("tools-toggle").click()                     # the panel closed
    call.scroll_into_view_if_needed()
    shoot(page, shots, "chat-mcp")


def test_with_approval_a_call_waits_and_skip_declines_by_keyboard(
        page: Page, calls_log: Path, shots: Path) -> None:
    set_params(page)
    page.get_by_test_id("param-confirm-tools").check()
    page.get_by_test_id("params-toggle").click()
    observed = Observed(page)
    before = ask(page, "Look up the word lotus.")
    approval = page.get_by_test_id("tool-approval")
    approval.wait_for(timeout=90_000)
    assert focused(page) == "tool-run"                     # Enter would run it
    page.wait_for_timeout(500)
    assert len(server_calls(calls_log)) == 1               # nothing ran while it waits
    assert len(observed.chats) == 1
    waiting = page.locator("[data-testid=tool-call][data-status=waiting]")
    expect(waiting).to_have_count(1)
    assert axe_problems(page) == []
    shoot(page, shots, "chat-mcp-approval")

    page.keyboard.press("Tab")
    assert focused(page) == "tool-skip"
    page.keyboard.press("Enter")
    answered(page, before)

    assert len(server_calls(calls_log)) == 1
    declined = page.locator("[data-testid=tool-call][data-status=declined]")
    expect(declined.get_by_test_id("tool-status")).to_have_text("skipped by you")
    result = observed.chats[1]["messages"][-1]
    assert result["role"] == "tool" and result["content"] == DECLINED
    # The choice stays with the conversation and the browser: a reload keeps both.
    page.reload()
    page.get_by_test_id("chat-input").wait_for()
    expect(page.get_by_test_id("tools-toggle")).to_have_text("Tools (1)")
    set_params(page)
    expect(page.get_by_test_id("param-confirm-tools")).to_be_checked()
    expect(page.locator("[data-testid=tool-call][data-status=declined]")).to_have_count(1)


@pytest.fixture(scope="module")
def owner(companion: Companion) -> Iterator[httpx.Client]:
    with owner_session(companion) as client:
        yield client


def test_a_refused_call_is_shown_failed_and_its_error_goes_to_the_model(
        page: Page, instance: dict[str, Any], owner: httpx.Client, calls_log: Path) -> None:
    observed = Observed(page)
    before = ask(page, "Look up the word tea.")
    page.get_by_test_id("tool-approval").wait_for(timeout=REPLY_MS)
    # While the call waits, the owner stops allowing the tool (on the MCP page, or here
    # through the API): the proxy refuses the call, and the model hears why.
    tools = f"/bodhi/v1/mcps/{instance['id']}/tools"
    assert owner.put(tools, json={"allowed_tools": ["add"]}).status_code == 200
    try:
        page.keyboard.press("Enter")                       # Run has the focus
        answered(page, before)
    finally:
        owner.put(tools, json={"allowed_tools": None})

    assert len(server_calls(calls_log)) == 1
    failed = page.locator("[data-testid=tool-call][data-status=error]")
    expect(failed.get_by_test_id("tool-status")).to_have_text("failed")
    failed.locator("summary").click()
    expect(failed.get_by_test_id("tool-result")).to_contain_text("not allowed")
    result = observed.chats[1]["messages"][-1]
    assert result["role"] == "tool" and result["content"].startswith("Error: ")
    assert "not allowed" in result["content"]
    assert axe_problems(page) == []


def test_stop_while_a_call_waits_ends_the_whole_answer(page: Page, calls_log: Path) -> None:
    observed = Observed(page)
    ask(page, "Look up the word rain.")
    page.get_by_test_id("tool-approval").wait_for(timeout=REPLY_MS)
    page.get_by_test_id("chat-stop").click()
    page.get_by_test_id("chat-send").wait_for()

    stopped = page.locator("[data-testid=tool-call][data-status=stopped]")
    expect(stopped.get_by_test_id("tool-status")).to_have_text("stopped")
    expect(page.get_by_test_id("tool-approval")).to_have_count(0)
    page.wait_for_timeout(500)                             # nothing more goes out
    assert len(observed.chats) == 1
    assert len(server_calls(calls_log)) == 1
