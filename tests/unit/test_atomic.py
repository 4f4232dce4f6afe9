"""Atomic file writes, the sweep of a dead writer's temp files, and the room check of pulls."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from companion.core.atomic import sweep_temp_files, temp_path, write_atomic
from companion.models.hf_download import DiskFull, check_room


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, check=True, timeout=30)
    return int(done.stdout)


def test_write_atomic_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["a.yaml"]
    write_atomic(tmp_path / "b.yaml", b"x")
    assert stat.S_IMODE((tmp_path / "b.yaml").stat().st_mode) == 0o600


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.yaml"]


def test_the_sweep_removes_only_the_temp_files_of_dead_writers(tmp_path: Path) -> None:
    dead = tmp_path / f".a.yaml.{_dead_pid()}-0123abcd.tmp"
    ours = temp_path(tmp_path / "b.yaml")
    live_writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        theirs = tmp_path / f".c.yaml.{live_writer.pid}-0123abcd.tmp"
        others = [tmp_path / "a.yaml", tmp_path / ".hidden.tmp", tmp_path / ".x.1-zz.tmp"]
        for path in (dead, ours, theirs, *others):
            path.write_text("half")
        assert sweep_temp_files(tmp_path) == [dead]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            p.name for p in (ours, theirs, *others))
    finally:
        live_writer.kill()
        live_writer.wait(10)
    assert sweep_temp_files(tmp_path / "missing") == []


def test_a_file_that_cannot_fit_is_refused_up_front(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    check_room(tmp_path, free // 2)
    check_room(tmp_path, 0)
    with pytest.raises(DiskFull) as refused:
        check_room(tmp_path, free + 10**12, done=1234)
    text = str(refused.value)
    assert refused.value.code == "disk_full"
    assert f"Not enough disk space in {tmp_path}" in text
    assert f"needs {free + 10**12:,} more bytes" in text and "1,234 bytes already" in text
