"""``secure_home`` takes group and other access off our files only, never through links."""

from __future__ import annotations

import stat
from pathlib import Path

from companion.core.home import private_file, secure_home


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_only_our_folders_and_files_change(tmp_path: Path) -> None:
    home, outside = tmp_path / "home", tmp_path / "outside.txt"
    (home / "logs").mkdir(parents=True)
    (home / "hf" / "hub").mkdir(parents=True)        # a model cache the user put inside
    outside.write_text("not ours")
    (home / "logs" / "link.log").symlink_to(outside)
    (home / "notes.txt").write_text("the user's")
    (home / "hf" / "hub" / "blob").write_text("weights")
    (home / "bodhi.sqlite").write_text("")
    (home / "run.key").write_text("")
    for path in [home, *home.rglob("*"), outside]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    (home / "run.key").chmod(0o640)

    changed = secure_home(home)

    assert mode(home) == mode(home / "logs") == 0o700
    assert mode(home / "bodhi.sqlite") == 0o600 and mode(home / "run.key") == 0o600
    assert set(changed) == {home, home / "logs", home / "bodhi.sqlite", home / "run.key"}
    assert mode(outside) == 0o644                       # not through the link
    assert mode(home / "notes.txt") == 0o644
    assert mode(home / "hf" / "hub") == 0o755 and mode(home / "hf" / "hub" / "blob") == 0o644
    assert secure_home(home) == []


def test_a_private_file_keeps_the_first_content(tmp_path: Path) -> None:
    first = private_file(tmp_path / "new" / "a.key", lambda: b"one")
    second = private_file(tmp_path / "new" / "a.key", lambda: b"two")

    assert first == second == b"one"
    assert mode(tmp_path / "new") == 0o700 and mode(tmp_path / "new" / "a.key") == 0o600
