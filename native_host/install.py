"""Register the native host with browsers: ``bodhi install-native-host`` / ``uninstall``.

For each browser this writes, in the folder where that browser looks for native-messaging
hosts, the host manifest (from ``manifests/``) and next to it a small launcher script that
runs ``python -m native_host`` with the Python (and so the virtual environment) that installed
it, and with the BODHI_HOME it was installed for. ``allowed_origins`` /
``allowed_extensions`` name only our extension ids.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from companion.core.errors import ConfigError
from companion.core.self_command import module_command
from native_host.ids import CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID, HOST_NAME

TEMPLATES = Path(__file__).resolve().parent.parent / "manifests"
LAUNCHER_SUFFIX = "-launcher"

# Where each browser's profile root lives, relative to the home directory.
_LINUX = {
    "chrome": ".config/google-chrome",
    "chromium": ".config/chromium",
    "edge": ".config/microsoft-edge",
    "brave": ".config/BraveSoftware/Brave-Browser",
    "vivaldi": ".config/vivaldi",
    "firefox": ".mozilla",
}
_MACOS = {
    "chrome": "Library/Application Support/Google/Chrome",
    "chromium": "Library/Application Support/Chromium",
    "edge": "Library/Application Support/Microsoft Edge",
    "brave": "Library/Application Support/BraveSoftware/Brave-Browser",
    "vivaldi": "Library/Application Support/Vivaldi",
    "firefox": "Library/Application Support/Mozilla",
}
BROWSERS = tuple(_LINUX)


@dataclass(frozen=True)
class Installed:
    browser: str
    manifest: Path


def _roots() -> dict[str, str]:
    if sys.platform == "darwin":
        return _MACOS
    if sys.platform.startswith("linux"):
        return _LINUX
    raise ConfigError(f"installing the native host on {sys.platform} is not supported yet")


def host_dir(browser: str, home: Path, user_data_dir: Path | None = None) -> Path:
    """The folder in which ``browser`` looks for native-host manifests."""
    if user_data_dir is not None:
        if browser == "firefox":
            raise ConfigError("--user-data-dir is for Chromium-family browsers; Firefox reads "
                              "native hosts from its folder under HOME")
        return user_data_dir / "NativeMessagingHosts"
    root = home / _roots()[browser]
    if browser == "firefox":
        return root / ("native-messaging-hosts" if sys.platform != "darwin"
                       else "NativeMessagingHosts")
    return root / "NativeMessagingHosts"


def chosen_browsers(browser: str, home: Path, user_data_dir: Path | None) -> list[str]:
    """``all`` means every browser whose profile folder exists (Chromium for a user-data-dir)."""
    if browser != "all":
        return [browser]
    if user_data_dir is not None:
        return ["chromium"]
    found = [b for b in BROWSERS if (home / _roots()[b]).is_dir()]
    if not found:
        raise ConfigError("no supported browser profile found; name one with --browser")
    return found


def launcher_text(env: dict[str, str]) -> str:
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
    return ("#!/bin/sh\n"
            "# Written by `bodhi install-native-host`: the browser starts the Bodhi native\n"
            "# host through this script, with the Python (or the binary) that installed it.\n"
            f"{exports}exec {shlex.join(module_command('native_host'))} \"$@\"\n")


def manifest_text(browser: str, launcher: Path) -> str:
    template = "firefox.json" if browser == "firefox" else "chromium.json"
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for key, value in {"host_name": HOST_NAME, "launcher": str(launcher),
                       "chrome_extension_id": CHROME_EXTENSION_ID,
                       "firefox_extension_id": FIREFOX_EXTENSION_ID}.items():
        text = text.replace("{{" + key + "}}", value)
    json.loads(text)                  # a template that no longer parses must not be installed
    return text


def install(browser: str, env: dict[str, str], *, home: Path | None = None,
            user_data_dir: Path | None = None) -> list[Installed]:
    home = home or Path.home()
    done = []
    for name in chosen_browsers(browser, home, user_data_dir):
        folder = host_dir(name, home, user_data_dir)
        folder.mkdir(parents=True, exist_ok=True)
        launcher = folder / f"{HOST_NAME}{LAUNCHER_SUFFIX}"
        launcher.write_text(launcher_text(env), encoding="utf-8")
        launcher.chmod(0o755)
        manifest = folder / f"{HOST_NAME}.json"
        manifest.write_text(manifest_text(name, launcher), encoding="utf-8")
        done.append(Installed(name, manifest))
    return done


def uninstall(browser: str, *, home: Path | None = None,
              user_data_dir: Path | None = None) -> list[Installed]:
    home = home or Path.home()
    names = [browser] if browser != "all" else (["chromium"] if user_data_dir else BROWSERS)
    removed = []
    for name in names:
        folder = host_dir(name, home, user_data_dir)
        manifest = folder / f"{HOST_NAME}.json"
        if manifest.exists():
            manifest.unlink()
            removed.append(Installed(name, manifest))
        (folder / f"{HOST_NAME}{LAUNCHER_SUFFIX}").unlink(missing_ok=True)
    return removed
