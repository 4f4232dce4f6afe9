"""bodhi install-native-host / uninstall-native-host: manifests, launcher, browser folders."""

from __future__ import annotations

import io
import json
import os
import subprocess
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
