"""bodhi install-native-host / uninstall-native-host: manifests, launcher, browser folders."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from companion.cli import main
from companion.core.errors import ConfigError
from native_host import install
from native_host.framing import read_frame, write_frame
from native_host.ids import CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID, HOST_NAME


def test_chromium_manifest_in_a_user_data_dir_names_only_our_extension(tmp_path: Path) -> None:
    [done] = install.install("chromium", {"BODHI_HOME": "/x"}, home=tmp_path / "home",
                             user_data_dir=tmp_path / "profile")

    assert done.manifest == tmp_path / "profile" / "NativeMessagingHosts" / f"{HOST_NAME}.json"
    manifest = json.loads(done.manifest.read_text())
    assert manifest["name"] == HOST_NAME
    assert manifest["type"] == "stdio"
    assert manifest["allowed_origins"] == [f"chrome-extension://{CHROME_EXTENSION_ID}/"]
    assert "allowed_extensions" not in manifest
    launcher = Path(manifest["path"])
    assert launcher.parent == done.manifest.parent
    assert os.access(launcher, os.X_OK)


def test_firefox_manifest_goes_under_home(tmp_path: Path) -> None:
    (tmp_path / ".mozilla").mkdir()
    [done] = install.install("firefox", {}, home=tmp_path)

    assert done.manifest == tmp_path / ".mozilla" / "native-messaging-hosts" / f"{HOST_NAME}.json"
    manifest = json.loads(done.manifest.read_text())
    assert manifest["allowed_extensions"] == [FIREFOX_EXTENSION_ID]
    assert "allowed_origins" not in manifest


def test_all_means_every_browser_found(tmp_path: Path) -> None:
    (tmp_path / ".config" / "chromium").mkdir(parents=True)
    (tmp_path / ".mozilla").mkdir()

    done = install.install("all", {}, home=tmp_path)

    assert sorted(d.browser for d in done) == ["chromium", "firefox"]


def test_all_with_no_browser_found_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--browser"):
        install.install("all", {}, home=tmp_path)


def test_user_data_dir_is_for_chromium_family_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Firefox"):
        install.install("firefox", {}, home=tmp_path, user_data_dir=tmp_path)


def test_the_launcher_runs_the_host_with_the_installed_settings(tmp_path: Path) -> None:
    env = {"BODHI_HOME": str(tmp_path / "my home"), "BODHI_PORT": "9"}
    (tmp_path / ".config" / "google-chrome").mkdir(parents=True)
    [done] = install.install("chrome", env, home=tmp_path)
    launcher = json.loads(done.manifest.read_text())["path"]
    request = tmp_path / "request"
    with request.open("wb") as out:
        write_frame(out, {"id": 1, "action": "status"})
        write_frame(out, {"id": 2, "action": "ping"})

    with request.open("rb") as inp:
        done_run = subprocess.run([launcher, f"chrome-extension://{CHROME_EXTENSION_ID}/"],
                                  stdin=inp, capture_output=True, timeout=60,
                                  env={"PATH": "/usr/bin:/bin"})

    replies = done_run.stdout
    stream = io.BytesIO(replies)
    first, second = read_frame(stream), read_frame(stream)
    assert first is not None and second is not None
    assert first["result"]["url"] == "http://127.0.0.1:9"
    assert first["result"]["running"] is False
    assert second["result"]["pong"] is True


def test_cli_install_then_uninstall(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BODHI_HOME", str(tmp_path / "bodhi"))
    monkeypatch.setenv("BODHI_PORT", "4321")
    profile = tmp_path / "profile"

    assert main(["install-native-host", "--browser", "chromium",
                 "--user-data-dir", str(profile)]) == 0
    manifest = profile / "NativeMessagingHosts" / f"{HOST_NAME}.json"
    launcher = Path(json.loads(manifest.read_text())["path"]).read_text()
    assert f"BODHI_HOME={tmp_path / 'bodhi'}" in launcher
    assert "BODHI_PORT=4321" in launcher
    assert "-m native_host" in launcher

    assert main(["uninstall-native-host", "--user-data-dir", str(profile)]) == 0
    assert not manifest.exists()
    assert list((profile / "NativeMessagingHosts").iterdir()) == []
    assert "removed chromium" in capsys.readouterr().out


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*"))


def test_a_browser_that_is_not_installed_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        install.install("brave", {}, home=tmp_path)

    message = refused.value.message
    assert "\n" not in message
    assert "brave does not look installed" in message
    assert str(tmp_path / ".config" / "BraveSoftware" / "Brave-Browser") in message
    assert _all_files(tmp_path) == []


def test_several_browsers_are_all_checked_before_any_is_written(tmp_path: Path) -> None:
    (tmp_path / ".config" / "chromium").mkdir(parents=True)

    with pytest.raises(ConfigError, match="firefox does not look installed"):
        install.install(["chromium", "firefox"], {}, home=tmp_path)

    assert _all_files(tmp_path) == [tmp_path / ".config", tmp_path / ".config" / "chromium"]


def test_an_unwritable_folder_leaves_nothing_half_done(tmp_path: Path) -> None:
    (tmp_path / ".config" / "chromium").mkdir(parents=True)
    (tmp_path / ".mozilla").mkdir()
    # A file where Firefox's host folder would go: the second browser cannot be written.
    (tmp_path / ".mozilla" / "native-messaging-hosts").write_text("in the way")
    before = _all_files(tmp_path)

    with pytest.raises(ConfigError, match="nothing was installed"):
        install.install(["chromium", "firefox"], {}, home=tmp_path)

    assert _all_files(tmp_path) == before


def test_a_reinstall_replaces_the_files_in_place(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    install.install("chromium", {"BODHI_PORT": "1"}, home=tmp_path, user_data_dir=profile)
    [done] = install.install("chromium", {"BODHI_PORT": "2"}, home=tmp_path,
                             user_data_dir=profile)

    folder = profile / "NativeMessagingHosts"
    assert sorted(p.name for p in folder.iterdir()) == [f"{HOST_NAME}-launcher",
                                                        f"{HOST_NAME}.json"]
    assert "BODHI_PORT=2" in (folder / f"{HOST_NAME}-launcher").read_text()
    assert json.loads(done.manifest.read_text())["name"] == HOST_NAME


@pytest.mark.parametrize(("platform", "browser", "folder"), [
    ("linux", "chrome", ".config/google-chrome/NativeMessagingHosts"),
    ("linux", "brave", ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts"),
    ("linux", "firefox", ".mozilla/native-messaging-hosts"),
    ("darwin", "chrome", "Library/Application Support/Google/Chrome/NativeMessagingHosts"),
    ("darwin", "edge", "Library/Application Support/Microsoft Edge/NativeMessagingHosts"),
    ("darwin", "vivaldi", "Library/Application Support/Vivaldi/NativeMessagingHosts"),
    ("darwin", "firefox", "Library/Application Support/Mozilla/NativeMessagingHosts"),
    ("win32", "chrome", "AppData/Local/Bodhi/NativeMessagingHosts/chrome"),
    ("win32", "firefox", "AppData/Local/Bodhi/NativeMessagingHosts/firefox"),
])
def test_host_folders_per_platform(platform: str, browser: str, folder: str) -> None:
    home = Path("/home/someone")
    assert install.host_dir(browser, home, platform=platform) == home / folder


@pytest.mark.parametrize(("browser", "key"), [
    ("chrome", "Software\\Google\\Chrome\\NativeMessagingHosts\\app.bodhi.companion"),
    ("chromium", "Software\\Chromium\\NativeMessagingHosts\\app.bodhi.companion"),
    ("edge", "Software\\Microsoft\\Edge\\NativeMessagingHosts\\app.bodhi.companion"),
    ("brave",
     "Software\\BraveSoftware\\Brave-Browser\\NativeMessagingHosts\\app.bodhi.companion"),
    ("vivaldi", "Software\\Vivaldi\\NativeMessagingHosts\\app.bodhi.companion"),
    ("firefox", "Software\\Mozilla\\NativeMessagingHosts\\app.bodhi.companion"),
])
def test_windows_registry_keys(browser: str, key: str) -> None:
    assert install.registry_key(browser) == key


def test_a_windows_plan_names_a_cmd_launcher_and_the_registry(tmp_path: Path) -> None:
    (tmp_path / "AppData" / "Local" / "Google" / "Chrome" / "User Data").mkdir(parents=True)
    (tmp_path / "AppData" / "Roaming" / "Mozilla" / "Firefox").mkdir(parents=True)

    planned = install.plan("all", {"BODHI_HOME": "C:\\Users\\me\\.bodhi 100%"}, home=tmp_path,
                           platform="win32")

    assert [p.browser for p in planned] == ["chrome", "firefox"]
    chrome = planned[0]
    assert chrome.launcher.name == f"{HOST_NAME}-launcher.cmd"
    assert chrome.registry_key == install.registry_key("chrome")
    assert json.loads(chrome.manifest_text)["path"] == str(chrome.launcher)
    assert chrome.launcher_text.startswith("@echo off\r\n")
    assert 'set "BODHI_HOME=C:\\Users\\me\\.bodhi 100%%"\r\n' in chrome.launcher_text
    assert chrome.launcher_text.endswith(" %*\r\n")
    assert list(tmp_path.rglob("*.json")) == []          # a plan writes nothing


def test_a_backslash_path_stays_valid_json() -> None:
    text = install.manifest_text("chrome", Path("C:\\Users\\me\\launcher.cmd"))
    assert json.loads(text)["path"] == "C:\\Users\\me\\launcher.cmd"


def test_user_data_dir_is_refused_on_windows(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="registry"):
        install.host_dir("chrome", tmp_path, tmp_path, platform="win32")


def test_a_frozen_install_launches_the_binary_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/bodhi/bodhi")

    text = install.launcher_text({}, platform="linux")

    assert text.splitlines()[-1] == 'exec /opt/bodhi/bodhi __module native_host "$@"'


def test_cli_refuses_a_missing_browser(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("BODHI_HOME", str(tmp_path / "bodhi"))

    assert main(["install-native-host", "--browser", "vivaldi"]) == 1

    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("bodhi: vivaldi does not look installed")
    assert not (tmp_path / ".config").exists()
