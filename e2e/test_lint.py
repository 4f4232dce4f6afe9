"""`web-ext lint` (Mozilla's add-on linter, from npm) finds no errors in the Firefox build."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from e2e.conftest import ROOT


def test_web_ext_lint_reports_no_errors(extension_dir: Path) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx is missing: install Node.js (scripts/test checks for it)")
    done = subprocess.run([npx, "--yes", "web-ext@8", "lint", "--output=json",
                           "--source-dir", str(ROOT / "dist" / "extension" / "firefox")],
                          capture_output=True, text=True, timeout=170)
    report = json.loads(done.stdout)

    assert report["errors"] == [], report["errors"]
    assert report["summary"]["errors"] == 0
