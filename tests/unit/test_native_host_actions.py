"""native_host actions and caller identity: status, the callers the host accepts, and a host
that keeps out of the database (pair and open go through the companion: see
tests/integration/test_native_host_owner.py)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from native_host import host
from native_host.caller import Caller, caller_from_argv
from native_host.ids import CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID

CHROME = Caller("chromium", CHROME_EXTENSION_ID)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BODHI_HOME", str(tmp_path / "bodhi"))
    monkeypatch.setenv("BODHI_PORT", "9")            # the discard port: nothing answers there
    return tmp_path / "bodhi"


def call(action: str, caller: Caller = CHROME, **fields: Any) -> dict[str, Any]:
    return host.handle({"id": "r1", "action": action, **fields}, caller)


@pytest.mark.parametrize(("argv", "expected"), [
    ([f"chrome-extension://{CHROME_EXTENSION_ID}/"], Caller("chromium", CHROME_EXTENSION_ID)),
    ([f"chrome-extension://{CHROME_EXTENSION_ID}/", "--parent-window=0"],
     Caller("chromium", CHROME_EXTENSION_ID)),
    (["/home/u/.mozilla/native-messaging-hosts/app.bodhi.companion.json",
      FIREFOX_EXTENSION_ID], Caller("firefox", FIREFOX_EXTENSION_ID)),
    ([], Caller("unknown", None)),
    (["something-else"], Caller("unknown", None)),
])
def test_the_caller_comes_from_the_browsers_command_line(argv: list[str],
                                                         expected: Caller) -> None:
    assert caller_from_argv(argv) == expected


def test_status_when_nothing_runs(home: Path) -> None:
    reply = call("status")

    assert reply == {"id": "r1", "ok": True, "result": {
        "running": False, "url": "http://127.0.0.1:9", "host_version": reply["result"][
            "host_version"]}}


@pytest.mark.parametrize("caller", [Caller("unknown", None),
                                    Caller("chromium", "abcdefghijklmnopabcdefghijklmnop"),
                                    Caller("firefox", "someone@else.example")])
@pytest.mark.parametrize("action", ["pair", "open"])
def test_pair_and_open_refuse_any_caller_but_our_extension(home: Path, caller: Caller,
                                                           action: str) -> None:
    reply = call(action, caller)

    assert reply["ok"] is False
    assert reply["error"]["code"] == "unknown_caller"
    assert not (home / "bodhi.sqlite").exists()


def test_the_message_cannot_claim_another_caller(home: Path) -> None:
    reply = call("pair", Caller("unknown", None), extension_id=CHROME_EXTENSION_ID,
                 browser="chromium")

    assert reply["error"]["code"] == "unknown_caller"


def test_the_host_never_touches_the_database_itself() -> None:
    """pair and open ask the running companion over HTTP; no module of the host reaches for
    the storage layer or the services that write it."""
    forbidden = ("companion.storage", "companion.access", "companion.auth.owner_login",
                 "companion.app")
    for module in Path(host.__file__).parent.glob("*.py"):
        tree = ast.parse(module.read_text())
        imported = {node.module for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        assert not {name for name in imported if name.startswith(forbidden)}, module.name
