"""Register the native host with browsers: ``bodhi install-native-host`` / ``uninstall``.

For each browser this writes the host manifest (from the templates that
``companion.core.bundled`` finds) and beside it a small launcher that runs the host
(``python -m native_host`` with the Python, and so the virtual environment, that installed it;
the one-file binary itself when frozen), with the BODHI_HOME it was installed for.
``allowed_origins`` / ``allowed_extensions`` name only our extension ids.

Where the files go (``host_dir``) is computed for a platform given as a parameter:

- Linux: the browser's folder under ``~/.config`` (Firefox: ``~/.mozilla/native-messaging-hosts``).
- macOS: the browser's folder under ``~/Library/Application Support`` (Firefox:
  ``Mozilla/NativeMessagingHosts`` there).
- Windows: browsers find hosts through the registry, so the files go to our own folder,
  ``%LOCALAPPDATA%\\Bodhi\\NativeMessagingHosts\\<browser>``, and the key
  ``HKCU\\<registry_key>`` gets the manifest's path as its default value.

Everything is planned and checked before anything is written; each file is written to a
temporary name and renamed, so an error leaves no half-done install behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from companion.core.bundled import manifest_templates
from companion.core.errors import ConfigError
from companion.core.self_command import module_command
from native_host.ids import CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID, HOST_NAME

LAUNCHER_SUFFIX = "-launcher"
_HOSTS = "NativeMessagingHosts"

# Where each browser keeps its profiles, relative to the home directory, per platform: a
# browser counts as installed when this folder exists.
_PROFILE_ROOTS = {
    "linux": {
        "chrome": ".config/google-chrome",
        "chromium": ".config/chromium",
        "edge": ".config/microsoft-edge",
        "brave": ".config/BraveSoftware/Brave-Browser",
        "vivaldi": ".config/vivaldi",
        "firefox": ".mozilla",
    },
    "darwin": {
        "chrome": "Library/Application Support/Google/Chrome",
        "chromium": "Library/Application Support/Chromium",
        "edge": "Library/Application Support/Microsoft Edge",
        "brave": "Library/Application Support/BraveSoftware/Brave-Browser",
        "vivaldi": "Library/Application Support/Vivaldi",
        "firefox": "Library/Application Support/Mozilla",
    },
    "win32": {
        "chrome": "AppData/Local/Google/Chrome/User Data",
        "chromium": "AppData/Local/Chromium/User Data",
        "edge": "AppData/Local/Microsoft/Edge/User Data",
        "brave": "AppData/Local/BraveSoftware/Brave-Browser/User Data",
        "vivaldi": "AppData/Local/Vivaldi/User Data",
        "firefox": "AppData/Roaming/Mozilla/Firefox",
    },
}
# Windows: the per-user registry key (under HKEY_CURRENT_USER) each browser reads.
_REGISTRY = {
    "chrome": "Software\\Google\\Chrome",
    "chromium": "Software\\Chromium",
    "edge": "Software\\Microsoft\\Edge",
    "brave": "Software\\BraveSoftware\\Brave-Browser",
    "vivaldi": "Software\\Vivaldi",
    "firefox": "Software\\Mozilla",
}
_WINDOWS_FOLDER = "AppData/Local/Bodhi/NativeMessagingHosts"
BROWSERS = tuple(_PROFILE_ROOTS["linux"])


@dataclass(frozen=True)
class Installed:
    browser: str
    manifest: Path
    registry_key: str | None = None


@dataclass(frozen=True)
class HostFiles:
    """What installing for one browser writes."""

    browser: str
    manifest: Path
    manifest_text: str
    launcher: Path
    launcher_text: str
    registry_key: str | None        # Windows only: HKCU\<this> = the manifest's path


def platform_family(platform: str = sys.platform) -> str:
    """``darwin`` and ``win32`` have their own layouts; every other system uses Linux's."""
    return platform if platform in ("darwin", "win32") else "linux"


def profile_root(browser: str, home: Path, platform: str = sys.platform) -> Path:
    return home / _PROFILE_ROOTS[platform_family(platform)][browser]


def registry_key(browser: str) -> str:
    """The key under HKEY_CURRENT_USER whose default value names the manifest (Windows)."""
    return f"{_REGISTRY[browser]}\\{_HOSTS}\\{HOST_NAME}"


def host_dir(browser: str, home: Path, user_data_dir: Path | None = None,
             platform: str = sys.platform) -> Path:
    """The folder that holds ``browser``'s native-host manifest."""
    family = platform_family(platform)
    if user_data_dir is not None:
        if browser == "firefox":
            raise ConfigError("--user-data-dir is for Chromium-family browsers; Firefox reads "
                              "native hosts from its folder under HOME")
        if family == "win32":
            raise ConfigError("--user-data-dir is not used on Windows: browsers find native "
                              "hosts through the registry")
        return user_data_dir / _HOSTS
    if family == "win32":
        return home / _WINDOWS_FOLDER / browser
    root = profile_root(browser, home, platform)
    if browser == "firefox":
        return root / (_HOSTS if family == "darwin" else "native-messaging-hosts")
    return root / _HOSTS


def chosen_browsers(browsers: str | Sequence[str], home: Path, user_data_dir: Path | None,
                    platform: str = sys.platform) -> list[str]:
    """``all`` means every browser whose profile folder exists (Chromium for a user-data-dir);
    a browser named outright must have its profile folder."""
    names = [browsers] if isinstance(browsers, str) else list(dict.fromkeys(browsers))
    if user_data_dir is not None:
        return ["chromium" if n == "all" else n for n in names]
    if "all" in names:
        found = [b for b in BROWSERS if profile_root(b, home, platform).is_dir()]
        if not found:
            raise ConfigError("no supported browser profile found; name one with --browser")
        return found
    for name in names:
        root = profile_root(name, home, platform)
        if not root.is_dir():
            raise ConfigError(f"{name} does not look installed: no profile folder at {root} "
                              "(start it once, or name another --browser); nothing was written")
    return names


def launcher_name(platform: str = sys.platform) -> str:
    suffix = ".cmd" if platform_family(platform) == "win32" else ""
    return f"{HOST_NAME}{LAUNCHER_SUFFIX}{suffix}"


def launcher_text(env: dict[str, str], platform: str = sys.platform) -> str:
    """The script the browser runs: our settings, then the host (``module_command``)."""
    argv = module_command("native_host")
    if platform_family(platform) == "win32":
        sets = "".join(f'set "{k}={v.replace("%", "%%")}"\r\n' for k, v in sorted(env.items()))
        run = " ".join(f'"{a}"' for a in argv)
        return ("@echo off\r\n"
                "rem Written by `bodhi install-native-host`: the browser starts the Bodhi\r\n"
                "rem native host through this script.\r\n"
                f"{sets}{run} %*\r\n")
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
    return ("#!/bin/sh\n"
            "# Written by `bodhi install-native-host`: the browser starts the Bodhi native\n"
            "# host through this script.\n"
            f"{exports}exec {shlex.join(argv)} \"$@\"\n")


def manifest_text(browser: str, launcher: Path) -> str:
    template = "firefox.json" if browser == "firefox" else "chromium.json"
    text = (manifest_templates() / template).read_text(encoding="utf-8")
    for key, value in {"host_name": HOST_NAME, "launcher": str(launcher),
                       "chrome_extension_id": CHROME_EXTENSION_ID,
                       "firefox_extension_id": FIREFOX_EXTENSION_ID}.items():
        # Inside a JSON string: a Windows path's backslashes must be escaped.
        text = text.replace("{{" + key + "}}", json.dumps(value)[1:-1])
    json.loads(text)                  # a template that no longer parses must not be installed
    return text


def plan(browsers: str | Sequence[str], env: dict[str, str], *, home: Path,
         user_data_dir: Path | None = None, platform: str = sys.platform) -> list[HostFiles]:
    """Every file (and key) an install would write; raises before anything is written."""
    planned = []
    for name in chosen_browsers(browsers, home, user_data_dir, platform):
        folder = host_dir(name, home, user_data_dir, platform)
        launcher = folder / launcher_name(platform)
        key = registry_key(name) if platform_family(platform) == "win32" else None
        planned.append(HostFiles(name, folder / f"{HOST_NAME}.json",
                                 manifest_text(name, launcher), launcher,
                                 launcher_text(env, platform), key))
    return planned


def install(browsers: str | Sequence[str], env: dict[str, str], *, home: Path | None = None,
            user_data_dir: Path | None = None) -> list[Installed]:
    planned = plan(browsers, env, home=home or Path.home(), user_data_dir=user_data_dir)
    _write_all([(f.launcher, f.launcher_text, 0o755) for f in planned]
               + [(f.manifest, f.manifest_text, 0o644) for f in planned])
    for files in planned:
        if files.registry_key is not None:
            _set_registry(files.registry_key, str(files.manifest))
    return [Installed(f.browser, f.manifest, f.registry_key) for f in planned]


def _write_all(files: Iterable[tuple[Path, str, int]]) -> None:
    """Write every file under a temporary name first, then rename them all into place; on an
    error remove the temporary files and any folder made for them."""
    made: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text, mode in files:
            made.extend(_make_dirs(path.parent))
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            staged.append((Path(name), path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            os.chmod(name, mode)
    except OSError as exc:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise ConfigError(f"cannot write {exc.filename or 'the native host files'}: "
                          f"{exc.strerror or exc}; nothing was installed") from exc
    for temp, path in staged:
        os.replace(temp, path)


def _make_dirs(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the ones created, outermost first."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()][::-1]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def uninstall(browsers: str | Sequence[str], *, home: Path | None = None,
              user_data_dir: Path | None = None) -> list[Installed]:
    home = home or Path.home()
    names = [browsers] if isinstance(browsers, str) else list(browsers)
    if "all" in names:
        names = ["chromium"] if user_data_dir else list(BROWSERS)
    removed = []
    for name in names:
        folder = host_dir(name, home, user_data_dir)
        manifest = folder / f"{HOST_NAME}.json"
        key = registry_key(name) if sys.platform == "win32" else None
        if manifest.exists():
            manifest.unlink()
            removed.append(Installed(name, manifest, key))
        (folder / launcher_name()).unlink(missing_ok=True)
        if key is not None:
            _delete_registry(key)
    return removed


def _set_registry(key: str, manifest: str) -> None:
    if sys.platform == "win32":
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as handle:
            winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, manifest)


def _delete_registry(key: str) -> None:
    if sys.platform == "win32":
        import winreg

        with contextlib.suppress(FileNotFoundError):
            winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
