#!/usr/bin/env python3
"""Build the browser extension: one source tree, two unpacked builds and their zips.

    dist/extension/chrome/    service-worker background, manifest `key` (pins the id)
    dist/extension/firefox/   background scripts, browser_specific_settings.gecko.id
    dist/extension/bodhi-<browser>-<version>.zip

Both builds get the icons that scripts/extension_icons.py draws (icons/icon-<size>.png).
`extension/manifest.json` holds what both share; `manifest.<browser>.json` is merged over it.
Nothing is transpiled: the sources are copied as they are.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from companion import __version__  # noqa: E402
from native_host.ids import CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID, chrome_id_from_key  # noqa: E402
from scripts.extension_icons import write_icons  # noqa: E402

SOURCE = ROOT / "extension"
BROWSERS = ("chrome", "firefox")
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)        # fixed, so identical sources give identical zips


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def manifest_for(browser: str) -> dict[str, Any]:
    base = json.loads((SOURCE / "manifest.json").read_text())
    overlay = json.loads((SOURCE / f"manifest.{browser}.json").read_text())
    manifest = merged(base, overlay)
    manifest["version"] = __version__
    check_ids(browser, manifest)
    return manifest


def check_ids(browser: str, manifest: dict[str, Any]) -> None:
    if browser == "chrome" and chrome_id_from_key(manifest["key"]) != CHROME_EXTENSION_ID:
        raise SystemExit("the manifest key does not give native_host.ids.CHROME_EXTENSION_ID")
    gecko_id = manifest.get("browser_specific_settings", {}).get("gecko", {}).get("id")
    if browser == "firefox" and gecko_id != FIREFOX_EXTENSION_ID:
        raise SystemExit("gecko.id differs from native_host.ids.FIREFOX_EXTENSION_ID")


def build(browser: str, dist: Path) -> Path:
    target = dist / browser
    shutil.rmtree(target, ignore_errors=True)
    # sdk/ is for page authors (served by the companion at /ui/sdk/), not part of the extension
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("manifest*.json", ".*", "sdk"))
    manifest = manifest_for(browser)
    icons = write_icons(target / "icons")
    if icons != manifest["icons"]:
        raise SystemExit("manifest.json's icons differ from what extension_icons.py writes")
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return target


def zip_tree(tree: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            out.writestr(info, path.read_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist" / "extension",
                        help="output folder (default: dist/extension)")
    parser.add_argument("--no-zip", action="store_true", help="unpacked builds only")
    args = parser.parse_args(argv)
    args.dist.mkdir(parents=True, exist_ok=True)
    for browser in BROWSERS:
        tree = build(browser, args.dist)
        if not args.no_zip:
            zip_tree(tree, args.dist / f"bodhi-{browser}-{__version__}.zip")
        print(f"built {tree}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
