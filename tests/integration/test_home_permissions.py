"""Other local users cannot read ``$BODHI_HOME``: modes after a real start of the companion.

The attack was plain reading: the home and ``logs/`` were 0755 and the databases and logs
0644, so any user could read grants, emails, access-request reasons, logs and the digests of
live pairing codes. An install made by an earlier version must be fixed at start; the Hugging
Face cache (outside the home) keeps its own modes.
"""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from tests.conftest import Companion, running_companion

MODEL = "smollm2:135m"
# What a home holds once a token exists, a model has run and the server is up.
EXPECTED_FILES = {"bodhi.sqlite", "bodhi.sqlite-wal", "bodhi.sqlite-shm", "session.sqlite",
                  "session.sqlite-wal", "session.sqlite-shm", "owner.secret", "app_jwt.key",
                  "encryption.key", "digest.key", "logs/bodhi.log"}


def modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (and ``root`` itself, as ".") with its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def not_private(root: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in modes(root).items()
            if mode != (0o700 if (root / name).is_dir() else 0o600)}


def hf_cache(root: Path) -> Path:
    """A Hugging Face cache beside the home, as other tools leave it (0755 / 0644)."""
    blob = root / "hf" / "hub" / "models--someone--model" / "blobs" / "abc"
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"weights")
    for path in [blob, *blob.parents]:
        path.chmod(0o644 if path == blob else 0o755)
        if path == root / "hf":
            break
    return root / "hf"


def chat_once(companion: Companion) -> None:
    token = companion.create_token()
    reply = httpx.post(companion.url + "/v1/chat/completions", timeout=120,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"model": MODEL, "max_tokens": 1,
                             "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 200, reply.text


def test_a_fresh_home_is_private(tmp_path: Path) -> None:
    cache = hf_cache(tmp_path)
    cache_before = modes(cache)
    with running_companion(tmp_path) as companion:
        chat_once(companion)           # a llama.cpp child writes its own log
        home = companion.home
        files = {n for n, _ in modes(home).items() if (home / n).is_file()}

        assert files >= EXPECTED_FILES
        assert any(n.startswith("logs/llama-") for n in files)
        assert not_private(home) == {}
    assert modes(cache) == cache_before


def old_install(root: Path) -> Path:
    """A home as an earlier version left it: folders 0755, files 0644."""
    with running_companion(root) as companion:
        companion.create_token("old")
    home = root / "bodhi"
    (home / "logs" / "bodhi.log.2026-01-01").write_text("rotated\n")
    (home / "logs" / "llama-smollm2_135m.log").write_text("child\n")
    (home / "aliases" / "mine.yaml").write_text("alias: mine\n")
    (home / "settings.yaml").write_text("BODHI_LOG_LEVEL: DEBUG\n")
    for path in [home, *home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return home


def test_an_install_from_an_earlier_version_is_made_private_at_start(tmp_path: Path) -> None:
    home = old_install(tmp_path)
    cache = hf_cache(tmp_path)
    cache_before = modes(cache)
    assert not_private(home)           # the attack: all of it readable by other users

    with running_companion(tmp_path) as companion:
        assert not_private(home) == {}
        assert "took group and other access off" in companion.log_text()
        assert (home / "aliases" / "mine.yaml").read_text() == "alias: mine\n"
    assert modes(cache) == cache_before
