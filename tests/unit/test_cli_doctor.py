"""``bodhi doctor``'s checks that need no companion: the data directory, the models, the
browsers' native-host manifests and the llama.cpp launcher, on real files and programs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from companion.cli import doctor
from companion.core.settings import Settings, load_settings
from native_host import install


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return load_settings(env={"BODHI_HOME": str(tmp_path / "bodhi"),
                              "HF_HOME": str(tmp_path / "hf"), "BODHI_PORT": "9", **env})


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def test_data_directory_missing_open_and_private(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    missing = doctor.home_check(settings)
    assert missing.ok is False and "does not exist" in missing.detail
    settings.home.mkdir(mode=0o755)
    settings.home.chmod(0o755)
    shared = doctor.home_check(settings)
    assert shared.ok is False and "(mode 755)" in shared.detail
    assert shared.fix == f"chmod 700 {settings.home}"
    settings.home.chmod(0o700)
    assert doctor.home_check(settings).ok is True


def test_models_report_the_embedded_model_and_broken_alias_files(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    found = doctor.models_check(settings)
    assert found.ok is True and found.detail.startswith("smollm2:135m (embedded)")
    (settings.home / "aliases").mkdir(parents=True)
    broken = settings.home / "aliases" / "mine.yaml"
    broken.write_text("alias: mine\n", encoding="utf-8")
    check = doctor.models_check(settings)
    assert check.ok is False and str(broken) in check.detail
    assert check.fix == f"correct or remove {broken}"


def test_native_host_of_each_browser_found(user_home: Path) -> None:
    assert [c.ok for c in doctor.native_host_checks()] == [None]   # no browser at all
    (user_home / ".config" / "chromium").mkdir(parents=True)
    [missing] = doctor.native_host_checks()
    assert (missing.name, missing.ok) == ("native host (chromium)", False)
    assert missing.fix == "bodhi install-native-host --browser chromium"
    [done] = install.install("chromium", {}, home=user_home)
    [good] = doctor.native_host_checks()
    assert good.ok is True and str(done.manifest) in good.detail
    program = Path(json.loads(done.manifest.read_text(encoding="utf-8"))["path"])
    program.unlink()
    [gone] = doctor.native_host_checks()
    assert gone.ok is False and "not an executable file" in gone.detail


def test_llama_launcher_starts(tmp_path: Path) -> None:
    check = doctor.launcher_check(settings_for(tmp_path))
    assert check.ok is True, check.detail


@pytest.mark.parametrize(("program", "says"), [
    ("/nonexistent/llama-server", "does not start"),
    ("/bin/false", "exited with 1"),
])
def test_a_broken_llama_server_setting_fails(tmp_path: Path, program: str, says: str) -> None:
    check = doctor.launcher_check(settings_for(tmp_path, BODHI_LLAMA_SERVER=program))
    assert check.ok is False and says in check.detail
    assert "BODHI_LLAMA_SERVER" in check.fix


def test_a_working_llama_server_setting_passes(tmp_path: Path) -> None:
    fake = tmp_path / "llama-server"
    fake.write_text(f"#!{sys.executable}\nprint('version: 1 (test)')\n", encoding="utf-8")
    fake.chmod(0o755)
    check = doctor.launcher_check(settings_for(tmp_path, BODHI_LLAMA_SERVER=str(fake)))
    assert check.ok is True and "BODHI_LLAMA_SERVER" in check.detail


def test_doctor_exit_status_and_marks(tmp_path: Path, user_home: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert doctor.command(argparse.Namespace(), settings_for(tmp_path)) == 1
    out = capsys.readouterr().out
    assert "companion: nothing answers at http://127.0.0.1:9" in out
    assert "    fix: start it: bodhi serve\n" in out
    assert out.rstrip().endswith("problem(s) found.")
