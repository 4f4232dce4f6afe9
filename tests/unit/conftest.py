"""Fixtures for the fast unit tier: real SQLite in tmp_path, a fake-but-real-layout HF cache."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from companion.auth import ApiTokenService
from companion.storage import ApiTokenRepository, ChangeWatch, Database

COMMIT = "a" * 40


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bodhi.sqlite")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def tokens(db: Database) -> AsyncIterator[ApiTokenService]:
    """The service as ``build_app`` wires it: repository plus a ``ChangeWatch``."""
    watch = ChangeWatch(db.path)
    try:
        yield ApiTokenService(ApiTokenRepository(db), watch)
    finally:
        watch.close()


AddModel = Callable[..., Path]


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    path = tmp_path / "hf" / "hub"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def add_model(hub: Path) -> AddModel:
    """Put ``filename`` of ``repo`` into the cache the way huggingface_hub does.

    The content lives in ``blobs/<hash>``; ``snapshots/<commit>/<filename>`` is a relative
    symlink to it; ``refs/main`` names the commit (unless ``ref`` is None).
    """

    def add(repo: str, filename: str, *, commit: str = COMMIT, ref: str | None = "main",
            content: bytes = b"GGUF fake") -> Path:
        repo_dir = hub / ("models--" + repo.replace("/", "--"))
        blob = repo_dir / "blobs" / hashlib.sha256(content + filename.encode()).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        link = repo_dir / "snapshots" / commit / filename
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
        if ref is not None:
            (repo_dir / "refs").mkdir(exist_ok=True)
            (repo_dir / "refs" / ref).write_text(commit + "\n", encoding="utf-8")
        return link

    return add
