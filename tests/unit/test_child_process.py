"""companion/core/child_process.py: the log tail an error message quotes."""

from __future__ import annotations

from pathlib import Path

from companion.core.child_process import log_tail


def test_the_tail_is_the_current_run_without_its_header(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("\n=== 2026-01-01 00:00:00 starting old --token abc\nold failure\n"
                   "\n=== 2026-01-02 00:00:00 starting new --token xyz\nfirst\n\nsecond\n")
    assert log_tail(log) == "first | second"


def test_a_run_that_wrote_nothing_says_so(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("earlier output\n\n=== 2026-01-02 00:00:00 starting new --token xyz\n")
    assert log_tail(log) == "nothing in the log"


def test_no_log_at_all(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "missing.log") == "no log"


def test_a_log_without_headers_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("a\nb\nc\nd\n")
    assert log_tail(log, lines=2) == "c | d"
