"""Helpers for the web UI's browser tests: screenshots at the widths the UI is made for, and
axe-core's accessibility check.

Screenshots go to ``E2E_SCREENSHOTS`` when it is set (``E2E_SCREENSHOTS=docs/images``
refreshes the docs' pictures), else to the run's pytest temporary folder (``web-ui-shots*``),
where pytest keeps them as the run's artifacts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WIDTHS = (1280, 390)


def shots_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("E2E_SCREENSHOTS") or tmp_path_factory.mktemp("web-ui-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(page: Page, shots: Path, name: str) -> None:
    """web-ui-`name`-1280.png and web-ui-`name`-390.png of the page as it is now."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800 if width > 500 else 844})
        page.wait_for_timeout(150)                     # let the layout settle
        page.screenshot(path=str(shots / f"web-ui-{name}-{width}.png"))
    page.set_viewport_size({"width": 1280, "height": 800})


def axe_problems(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now. Evaluated through
    the DevTools protocol, which the page's CSP does not govern (the UI never loads axe)."""
    page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"],
             "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]
