#!/usr/bin/env python3
"""Build the wheels a pip/pipx install needs into dist/ (or --dist DIR):

    bodhi_companion-<version>-py3-none-any.whl     the companion and the native host, with the
                                                   manifest templates and the built extension
    bodhi_model_smollm2-0.1.2-py3-none-any.whl     the embedded model (scripts/model_wheel.py)

The repository keeps its layout: the wheel is built from a staged copy of the two packages in
which ``manifests/`` and the extension build (``scripts/build_extension.py``) lie under
``companion/bundled/``, where ``companion.core.bundled`` finds them in an install.

    pip install --find-links dist bodhi-companion
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import build_extension, model_wheel  # noqa: E402

PACKAGES = ("companion", "native_host")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "bundled")


def stage(into: Path) -> Path:
    """A source tree for setuptools: the packages, pyproject and README, plus bundled/."""
    tree = into / "src"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=_SKIP)
    bundled = tree / "companion" / "bundled"
    shutil.copytree(ROOT / "manifests", bundled / "manifests")
    build_extension.main(["--dist", str(bundled / "extension")])
    return tree


def build_companion_wheel(tree: Path, dist: Path) -> Path:
    before = set(dist.glob("bodhi_companion-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "--wheel-dir", str(dist), str(tree)],
                   check=True)
    made = sorted(set(dist.glob("bodhi_companion-*.whl")) - before
                  or dist.glob("bodhi_companion-*.whl"), key=lambda p: p.stat().st_mtime)
    return made[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist",
                        help="output folder (default: dist)")
    parser.add_argument("--model-cache", type=Path, default=ROOT / "build" / "wheels",
                        help="where the model wheel is built once (default: build/wheels)")
    args = parser.parse_args(argv)
    args.dist.mkdir(parents=True, exist_ok=True)
    model = model_wheel.build(args.model_cache)
    if model.parent.resolve() != args.dist.resolve():
        shutil.copyfile(model, args.dist / model.name)
    with tempfile.TemporaryDirectory(prefix="bodhi-wheel-") as scratch:
        wheel = build_companion_wheel(stage(Path(scratch)), args.dist)
    for path in (wheel, args.dist / model.name):
        print(f"built {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
