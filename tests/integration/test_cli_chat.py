"""``bodhi chat`` in a pseudo-terminal (pexpect) and one-shot, against the real companion and the
real embedded model: replies stream, Ctrl-C stops a reply and the companion keeps serving, and
the owner's sign-in leaves no token or session behind."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pexpect
import pytest

from tests.conftest import Companion, db_path, running_companion, wait_until
from tests.integration.mcp_api import owner_session

MODEL = "smollm2:135m"
LONG_ASK = "Write a very long story about a dragon and a knight, with many chapters."
REPLY_SECS = 90


@pytest.fixture(scope="module")
def companion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    with running_companion(tmp_path_factory.mktemp("chat")) as running:
        yield running


def bodhi(companion: Companion, *args: str, stdin: str | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "companion", *args], input=stdin,
                          env=env or companion.env, capture_output=True, text=True,
                          timeout=REPLY_SECS)


@contextlib.contextmanager
def terminal_chat(companion: Companion, *args: str) -> Iterator[pexpect.spawn]:
    child = pexpect.spawn(sys.executable, ["-m", "companion", "chat", *args],
                          env=companion.env, encoding="utf-8", timeout=REPLY_SECS,
                          dimensions=(40, 200))
    try:
        child.expect_exact(">>> ")
        yield child
    finally:
        child.close(force=True)


def ask(child: pexpect.spawn, text: str) -> None:
    """Send a message; returns once the terminal echoed it (the reply comes next)."""
    child.sendline(text)
    child.expect_exact(text + "\r\n")


def in_flight(owner: httpx.Client, companion: Companion) -> int:
    loaded = owner.get(companion.url + "/bodhi/v1/models/loaded").json()["data"]
    return sum(int(m["in_flight"]) for m in loaded)


def left_behind(companion: Companion) -> tuple[int, int]:
    """(API tokens, sessions) in the companion's databases."""
    with contextlib.closing(sqlite3.connect(db_path(companion.home))) as db:
        tokens = db.execute("SELECT count(*) FROM api_tokens").fetchone()[0]
    with contextlib.closing(sqlite3.connect(companion.home / "session.sqlite")) as db:
        sessions = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    return int(tokens), int(sessions)


def test_interactive_reply_streams_and_ctrl_c_stops_it(companion: Companion) -> None:
    # Long enough to be stopped in the middle, bounded so that the next reply ends in time.
    with terminal_chat(companion, MODEL, "--max-tokens", "300") as child, \
            contextlib.closing(owner_session(companion)) as owner:
        ask(child, LONG_ASK)
        child.expect(r"\w+\W+\w+\W+\w+")       # the reply has started to stream
        child.sendintr()
        child.expect_exact("(stopped)")
        # The stream was closed, so the companion stopped generating rather than finishing.
        assert wait_until(lambda: in_flight(owner, companion) == 0, 5), "still generating"
        child.expect_exact(">>> ")
        ask(child, "Say hi.")
        child.expect(r"\w+")  # the companion still serves
        child.expect_exact(">>> ")
        child.sendline("/bye")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0


STATS = r"\(prompt (\d+) tokens, reply (\d+) tokens"


def counted(child: pexpect.spawn, text: str) -> tuple[int, int]:
    """Ask, wait for the reply's --verbose line: (prompt tokens, reply tokens)."""
    ask(child, text)
    child.expect(STATS)
    prompt, reply = (int(n) for n in child.match.groups())
    child.expect_exact(">>> ")
    return prompt, reply


def test_conversation_is_kept_until_clear_and_ctrl_d_leaves(companion: Companion) -> None:
    with terminal_chat(companion, MODEL, "--max-tokens", "12", "--verbose") as child:
        first, replied = counted(child, "My name is Zorblax. Say OK.")
        # The second request carries the first question and its answer.
        second, _ = counted(child, "What is my name?")
        assert second > first + replied
        ask(child, "/clear")
        child.expect_exact("Forgot the conversation.")
        child.expect_exact(">>> ")
        third, _ = counted(child, "What is my name?")
        assert third < first + replied
        ask(child, "/?")
        child.expect_exact("/clear")
        child.expect_exact(">>> ")
        ask(child, "/set")
        child.expect_exact("Unknown command '/set'. /? for help.")
        child.expect_exact(">>> ")
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0


def test_ctrl_c_at_the_prompt_leaves(companion: Companion) -> None:
    with terminal_chat(companion, MODEL) as child:
        child.sendintr()
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0


def test_one_shot_prints_the_answer_and_leaves_nothing_behind(companion: Companion) -> None:
    before = left_behind(companion)
    done = bodhi(companion, "chat", MODEL, "Say", "hello", "--max-tokens", "16")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    piped = bodhi(companion, "chat", MODEL, "--max-tokens", "16",
                  stdin="What is the capital of France?\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.strip()
    assert left_behind(companion) == before and before[0] == 0


def test_an_api_token_may_be_given_instead(companion: Companion) -> None:
    token = companion.create_token("chat-cli")
    env = {**companion.env, "BODHI_API_TOKEN": token}
    done = bodhi(companion, "chat", MODEL, "Say hello", "--max-tokens", "8", env=env)
    assert done.returncode == 0, done.stderr
    wrong = bodhi(companion, "chat", MODEL, "Say hello", "--token", "bodhiapp_wrong")
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("bodhi: ") and len(wrong.stderr.splitlines()) == 1


def test_unknown_model_names_some_that_exist(companion: Companion) -> None:
    done = bodhi(companion, "chat", "no-such-model", "hi")
    assert done.returncode == 1
    assert "unknown model 'no-such-model'" in done.stderr
    assert MODEL in done.stderr and "bodhi models" in done.stderr


def test_companion_not_running_says_how_to_start_it(tmp_path: Path) -> None:
    stopped = Companion(tmp_path)
    done = bodhi(stopped, "chat", MODEL, "hi")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"bodhi: the companion is not running at {stopped.url}. "
                                   "Start it with: bodhi serve")
    started = time.monotonic()
    assert bodhi(stopped, "status").returncode == 1
    assert time.monotonic() - started < 30
