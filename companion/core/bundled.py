"""Files that ship with an install but are not Python: the native-host manifest templates and
the built browser extension.

In a wheel they are package data under ``companion/bundled/`` (``manifests/`` and
``extension/``), put there by ``scripts/build_wheel.py``. In a source checkout (an editable
install) they are read where they are made: ``manifests/`` at the top of the repository and
the extension build in ``dist/extension/`` (``scripts/build_extension.py``).
"""

from __future__ import annotations

from pathlib import Path

from companion.core.errors import ConfigError

PACKAGED = Path(__file__).resolve().parent.parent / "bundled"
_CHECKOUT = Path(__file__).resolve().parents[2]
EXTENSION_BROWSERS = ("chrome", "firefox")


def source_checkout() -> Path | None:
    """The repository root when this code runs from a source checkout."""
    root = _CHECKOUT
    if (root / "pyproject.toml").is_file() and (root / "extension" / "manifest.json").is_file():
        return root
    return None


def manifest_templates() -> Path:
    """The folder holding ``chromium.json`` and ``firefox.json``."""
    for folder in (PACKAGED / "manifests", _checkout_path("manifests")):
        if folder is not None and (folder / "chromium.json").is_file():
            return folder
    raise ConfigError("this install lacks the native-host manifest templates "
                      f"(looked in {PACKAGED / 'manifests'}); reinstall bodhi-companion")


def extension_build() -> Path:
    """The folder holding ``chrome/``, ``firefox/`` and their zips."""
    if (PACKAGED / "extension" / "chrome" / "manifest.json").is_file():
        return PACKAGED / "extension"
    checkout = source_checkout()
    if checkout is None:
        raise ConfigError("this install lacks the built browser extension (looked in "
                          f"{PACKAGED / 'extension'}); reinstall bodhi-companion")
    built = checkout / "dist" / "extension"
    if not all((built / b / "manifest.json").is_file() for b in EXTENSION_BROWSERS):
        raise ConfigError(f"the extension is not built yet in this source checkout ({built}): "
                          "run scripts/build_extension.py")
    return built


def _checkout_path(name: str) -> Path | None:
    root = source_checkout()
    return root / name if root else None
