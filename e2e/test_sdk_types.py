"""The SDK's types hold: ``tsc --strict --checkJs`` (TypeScript 5, from npm) finds no error in
the demo page's source, which is plain JavaScript with ``// @ts-check`` and JSDoc, checked
against ``bodhi.d.ts`` and ``get-bodhi.d.ts``; ``get-bodhi.js`` is checked too. The check
can fail: the same demo with a wrong call in it is reported."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from e2e.conftest import ROOT

WEB = ROOT / "companion" / "web"
OPTIONS = ["--noEmit", "--strict", "--allowJs", "--checkJs", "--pretty", "false",
           "--target", "es2022", "--module", "es2022", "--moduleResolution", "bundler",
           "--lib", "es2022,dom,dom.iterable,dom.asynciterable"]


def tsc(web: Path) -> subprocess.CompletedProcess[str]:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx is missing: install Node.js (scripts/test checks for it)")
    files = [web / "demo" / "demo.js", web / "sdk" / "bodhi.d.ts", web / "sdk" / "get-bodhi.js"]
    return subprocess.run([npx, "--yes", "-p", "typescript@5", "tsc", *OPTIONS,
                           *map(str, files)], capture_output=True, text=True, timeout=170)


def test_the_demo_type_checks_against_the_sdk() -> None:
    done = tsc(WEB)

    assert done.returncode == 0, done.stdout + done.stderr


def test_a_wrong_call_in_the_demo_is_reported(tmp_path: Path) -> None:
    web = tmp_path / "web"
    for folder in ("demo", "sdk"):
        shutil.copytree(WEB / folder, web / folder)
    demo = web / "demo" / "demo.js"
    source = demo.read_text()
    wrong = {"await bodhi.embeddings.create({ input, model })":
             "await bodhi.embeddings.create({ inputs: input, model })",
             "e.code === 'cooldown'": "e.code === 'cool_down'",
             "grantchange (${event.detail.state})": "grantchange (${event.detail.status})"}
    for right, bad in wrong.items():
        assert right in source
        source = source.replace(right, bad)
    demo.write_text(source)

    done = tsc(web)

    assert done.returncode != 0
    assert "'inputs' does not exist in type 'EmbeddingRequest'" in done.stdout, done.stdout
    assert "'\"cool_down\"'" in done.stdout and "no overlap" in done.stdout, done.stdout
    assert "'status' does not exist on type 'GrantChangeDetail'" in done.stdout, done.stdout
