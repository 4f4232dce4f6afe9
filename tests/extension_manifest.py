"""What a built extension's manifest.json points at, for tests that check a build loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def referenced_files(manifest: dict[str, Any]) -> set[str]:
    """Every file the manifest names: background, pages, content scripts, icons."""
    names: set[str] = set(manifest.get("icons", {}).values())
    action = manifest.get("action", {})
    names.update(action.get("default_icon", {}).values())
    names.update(n for n in (action.get("default_popup"),
                             manifest.get("options_ui", {}).get("page")) if n)
    background = manifest.get("background", {})
    names.update(background.get("scripts", []))
    if "service_worker" in background:
        names.add(background["service_worker"])
    for script in manifest.get("content_scripts", []):
        names.update(script.get("js", []) + script.get("css", []))
    return names


def missing_files(folder: Path) -> list[str]:
    """Files the folder's manifest.json names that are not there (empty when it loads)."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return sorted(n for n in referenced_files(manifest) if not (folder / n).is_file())
