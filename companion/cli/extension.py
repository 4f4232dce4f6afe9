"""``bodhi extension export DIR``: put the browser extension where the user can load it.

The extension ships inside the install (``companion.core.bundled``): each browser's unpacked
build and its zip. Export copies them to ``DIR/bodhi-<browser>/`` (and, with ``--zip``,
``DIR/bodhi-<browser>-<version>.zip``); an earlier export there is replaced, anything else
with that name is left alone and refused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from companion import __version__
from companion.core.bundled import EXTENSION_BROWSERS, extension_build
from companion.core.errors import ConfigError

HOW_TO_LOAD = {
    "chrome": "Chrome, Edge, Brave, Vivaldi: open chrome://extensions, switch on Developer "
              "mode, click 'Load unpacked' and choose {folder}",
    "firefox": "Firefox: open about:debugging#/runtime/this-firefox, click 'Load Temporary "
               "Add-on...' and choose {folder}/manifest.json{zip} (it stays until Firefox "
               "restarts)",
}


def add_parsers(commands: Any) -> None:
    extension = commands.add_parser("extension", help="the browser extension").add_subparsers(
        dest="extension_command", required=True, metavar="ACTION")
    export = extension.add_parser(
        "export", help="write the extension into DIR, ready to load in a browser",
        description="Write the browser extension into DIR (unpacked, and with --zip as a zip "
                    "too) and print how to load it.")
    export.add_argument("dir", type=Path, metavar="DIR",
                        help="folder to write into (created when missing)")
    export.add_argument("--browser", choices=[*EXTENSION_BROWSERS, "all"], default="all",
                        help="which build (default: all)")
    export.add_argument("--zip", action="store_true", help="also write the zip of each build")


def command(args: argparse.Namespace) -> None:
    browsers = list(EXTENSION_BROWSERS) if args.browser == "all" else [args.browser]
    for browser, folder, archive in export(args.dir, browsers, with_zip=args.zip):
        print(f"wrote {folder}" + (f" and {archive}" if archive else ""))
        zip_hint = f" (or the zip {archive})" if archive else ""
        print("  " + HOW_TO_LOAD[browser].format(folder=folder, zip=zip_hint))


def export(dest: Path, browsers: list[str], *,
           with_zip: bool = False) -> list[tuple[str, Path, Path | None]]:
    """Copy each browser's build into ``dest``; returns (browser, folder, zip or None)."""
    build = extension_build()
    _check_destination(dest)
    done = []
    for browser in browsers:
        folder = _replace_tree(build / browser, dest / f"bodhi-{browser}")
        archive = None
        if with_zip:
            source = build / f"bodhi-{browser}-{__version__}.zip"
            if not source.is_file():
                raise ConfigError(f"{source} is missing; build the extension with its zips "
                                  "(scripts/build_extension.py)")
            archive = dest / source.name
            _copy_file(source, archive)
        done.append((browser, folder.resolve(), archive.resolve() if archive else None))
    return done


def _check_destination(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest} is a file; name a folder to export the extension into")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {dest}: {exc.strerror or exc}") from exc
    if not os.access(dest, os.W_OK | os.X_OK):
        raise ConfigError(f"{dest} is not writable")


def _replace_tree(source: Path, target: Path) -> Path:
    """Copy ``source`` to ``target`` beside it first, then swap it in."""
    if target.exists() and not _is_our_export(target):
        raise ConfigError(f"{target} exists and is not an exported Bodhi extension; "
                          "move it away or choose another folder")
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        shutil.copytree(source, staging / "new")
        if target.exists():
            target.rename(staging / "old")
        (staging / "new").rename(target)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _is_our_export(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("name") == "Bodhi"


def _copy_file(source: Path, target: Path) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        shutil.copyfile(source, temp)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from exc
