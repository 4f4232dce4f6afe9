"""scripts/build_extension.py: one source tree, a Chromium and a Firefox build, pinned ids."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from companion import __version__
from native_host.ids import CHROME_EXTENSION_ID, FIREFOX_EXTENSION_ID, chrome_id_from_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"),
                    "--dist", str(out)], check=True, capture_output=True, timeout=60)
    return out


def manifest(dist: Path, browser: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((dist / browser / "manifest.json").read_text())
    return loaded


def test_chrome_build_pins_the_id_and_uses_a_service_worker(dist: Path) -> None:
    m = manifest(dist, "chrome")

    assert chrome_id_from_key(str(m["key"])) == CHROME_EXTENSION_ID
    assert m["background"] == {"service_worker": "background/main.js", "type": "module"}
    assert m["version"] == __version__
    assert "browser_specific_settings" not in m


def test_firefox_build_has_a_gecko_id_and_background_scripts(dist: Path) -> None:
    m = manifest(dist, "firefox")

    assert m["browser_specific_settings"]["gecko"]["id"] == FIREFOX_EXTENSION_ID  # type: ignore[index]
    assert m["background"] == {"scripts": ["background/main.js"], "type": "module"}
    assert "key" not in m


@pytest.mark.parametrize("browser", ["chrome", "firefox"])
def test_both_builds_inject_window_bodhi_in_the_main_world_at_document_start(
        dist: Path, browser: str) -> None:
    m = manifest(dist, browser)
    scripts = m["content_scripts"]
    assert isinstance(scripts, list)
    inpage = next(s for s in scripts if "inpage/bodhi.js" in s["js"])

    # The Prompt API script runs first and hands LanguageModel to bodhi.js, which freezes it.
    assert inpage["js"] == ["inpage/language_model.js", "inpage/bodhi.js"]
    assert inpage["world"] == "MAIN"
    assert inpage["run_at"] == "document_start"
    assert all(s["all_frames"] is True for s in scripts)     # frames too, as their own origin
    # scripting: window.LanguageModel is a page script registered only while its setting is on
    assert m["permissions"] == ["storage", "nativeMessaging", "scripting"]
    assert m["host_permissions"] == ["http://127.0.0.1/*", "http://localhost/*"]


def test_zips_hold_the_unpacked_builds(dist: Path) -> None:
    for browser in ("chrome", "firefox"):
        with zipfile.ZipFile(dist / f"bodhi-{browser}-{__version__}.zip") as archive:
            names = set(archive.namelist())
            assert json.loads(archive.read("manifest.json")) == manifest(dist, browser)
        files = {p.relative_to(dist / browser).as_posix()
                 for p in (dist / browser).rglob("*") if p.is_file()}
        assert names == files
        assert "manifest.chrome.json" not in names
        assert not any(name.startswith("sdk/") for name in names)   # served at /ui/sdk/


def test_every_script_parses(dist: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to check the extension's JavaScript")
    scripts = sorted((dist / "chrome").rglob("*.js"))
    assert len(scripts) > 10
    for script in scripts:
        done = subprocess.run([node, "--experimental-default-type=module", "--check",
                               str(script)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{script.name}: {done.stderr}"


def _png_header(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"),
            data[24], data[25])


@pytest.mark.parametrize("browser", ["chrome", "firefox"])
def test_both_builds_carry_square_rgba_icons_of_the_sizes_they_name(
        dist: Path, browser: str) -> None:
    m = manifest(dist, browser)
    icons, action = m["icons"], m["action"]
    assert isinstance(icons, dict) and isinstance(action, dict)

    assert sorted(int(size) for size in icons) == [16, 32, 48, 128]
    for size, path in {**icons, **action["default_icon"]}.items():
        data = (dist / browser / path).read_bytes()
        assert _png_header(data) == (int(size), int(size), 8, 6)
        with zipfile.ZipFile(dist / f"bodhi-{browser}-{__version__}.zip") as archive:
            assert archive.read(path) == data
