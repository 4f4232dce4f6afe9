"""Package data (manifest templates, the built extension) and ``bodhi extension export``."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from companion import __version__
from companion.cli import main
from companion.cli.extension import export
from companion.core import bundled
from companion.core.errors import ConfigError
from scripts import build_extension
from tests.extension_manifest import missing_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``bundled/`` folder laid out as scripts/build_wheel.py stages it."""
    folder = tmp_path_factory.mktemp("bundled")
    build_extension.main(["--dist", str(folder / "extension")])
    (folder / "manifests").mkdir()
    for template in (ROOT / "manifests").glob("*.json"):
        (folder / "manifests" / template.name).write_bytes(template.read_bytes())
    return folder


@pytest.fixture
def installed(packaged: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run as from a wheel: package data present."""
    monkeypatch.setattr(bundled, "PACKAGED", packaged)
    return packaged


def test_a_source_checkout_reads_the_top_level_templates() -> None:
    assert not bundled.PACKAGED.exists()          # an editable install has no bundled/
    assert bundled.source_checkout() == ROOT
    assert bundled.manifest_templates() == ROOT / "manifests"


def test_an_install_reads_its_package_data(installed: Path) -> None:
    assert bundled.manifest_templates() == installed / "manifests"
    assert bundled.extension_build() == installed / "extension"


def test_a_checkout_without_a_build_says_how_to_build(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "extension").mkdir()
    (tmp_path / "extension" / "manifest.json").write_text("{}")
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setattr(bundled, "_CHECKOUT", tmp_path)

    with pytest.raises(ConfigError, match=r"run scripts/build_extension\.py"):
        bundled.extension_build()


def test_an_install_without_package_data_says_so(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled, "_CHECKOUT", tmp_path)        # not a checkout

    with pytest.raises(ConfigError, match="reinstall"):
        bundled.manifest_templates()
    with pytest.raises(ConfigError, match="reinstall"):
        bundled.extension_build()


def test_export_writes_loadable_folders_and_zips(installed: Path, tmp_path: Path) -> None:
    done = export(tmp_path / "out", ["chrome", "firefox"], with_zip=True)

    assert [d[0] for d in done] == ["chrome", "firefox"]
    for browser, folder, archive in done:
        assert folder == tmp_path / "out" / f"bodhi-{browser}"
        assert missing_files(folder) == []
        assert archive == tmp_path / "out" / f"bodhi-{browser}-{__version__}.zip"
        with zipfile.ZipFile(archive) as zipped:
            assert json.loads(zipped.read("manifest.json")) == json.loads(
                (folder / "manifest.json").read_text())
    chrome = json.loads((tmp_path / "out" / "bodhi-chrome" / "manifest.json").read_text())
    firefox = json.loads((tmp_path / "out" / "bodhi-firefox" / "manifest.json").read_text())
    assert "service_worker" in chrome["background"] and "key" in chrome
    assert "scripts" in firefox["background"]


def test_export_replaces_an_earlier_export_only(installed: Path, tmp_path: Path) -> None:
    export(tmp_path, ["chrome"])
    (tmp_path / "bodhi-chrome" / "stale.js").write_text("old")
    export(tmp_path, ["chrome"])
    assert not (tmp_path / "bodhi-chrome" / "stale.js").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bodhi-chrome"]

    (tmp_path / "bodhi-firefox").mkdir()
    (tmp_path / "bodhi-firefox" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an exported Bodhi extension"):
        export(tmp_path, ["firefox"])
    assert (tmp_path / "bodhi-firefox" / "notes.txt").read_text() == "mine"


def test_export_into_a_file_is_refused(installed: Path, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")

    with pytest.raises(ConfigError, match="is a file"):
        export(target, ["chrome"])
    with pytest.raises(ConfigError, match="cannot create"):
        export(target / "below", ["chrome"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_export_into_a_read_only_folder_is_refused(installed: Path, tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            export(tmp_path, ["chrome"])
    finally:
        tmp_path.chmod(0o755)


def test_cli_export_prints_how_to_load(installed: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extension", "export", str(tmp_path), "--browser", "firefox", "--zip"]) == 0

    out = capsys.readouterr().out
    assert "about:debugging" in out and "Load Temporary Add-on" in out
    assert str(tmp_path / "bodhi-firefox") in out
    assert not (tmp_path / "bodhi-chrome").exists()


def test_cli_export_error_is_one_line(installed: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")

    assert main(["extension", "export", str(tmp_path / "file")]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
