"""Read the metadata header of a GGUF file: architecture, context length, chat template,
quantisation. Only the key/value section is parsed; tensors are never touched.

Format (little endian): ``GGUF`` magic, uint32 version (2 or 3), uint64 tensor count,
uint64 key/value count, then each key as a length-prefixed string, a uint32 value type and
the value. Arrays (the tokenizer's vocabulary) are skipped without being kept.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 64 * 1024 * 1024
_MAX_KEYS = 100_000

# llama.cpp's ``llama_ftype`` values (general.file_type).
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
              10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S",
              15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS",
              20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S",
              25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS",
              31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0"}


class GGUFError(ValueError):
    """Not a GGUF file, or a damaged one."""


@dataclass(frozen=True)
class GGUFInfo:
    version: int
    architecture: str | None
    name: str | None
    context_length: int | None
    embedding_length: int | None
    chat_template: str | None
    quantization: str | None
    size_label: str | None

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template)


class _Reader:
    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self._file.read(size)
        if len(data) != size:
            raise GGUFError("file ends inside its header")
        return struct.unpack(fmt, data)[0]

    def string(self, keep: bool = True) -> str | None:
        length = self.take("<Q")
        if length > _MAX_STRING:
            raise GGUFError(f"implausible string length {length}")
        if not keep:
            self._file.seek(length, 1)
            return None
        data = self._file.read(length)
        if len(data) != length:
            raise GGUFError("file ends inside its header")
        return data.decode("utf-8", errors="replace")

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string(keep)
        if kind == _ARRAY:
            item_kind, count = self.take("<I"), self.take("<Q")
            if item_kind in _SCALARS:  # fixed size items: jump over them
                self._file.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
            else:
                for _ in range(count):
                    self.value(item_kind, keep=False)
            return None
        raise GGUFError(f"unknown value type {kind}")


def read_metadata(path: Path) -> dict[str, Any]:
    """Every scalar and string key of the header (arrays are skipped)."""
    with path.open("rb") as file:
        reader = _Reader(file)
        if file.read(4) != b"GGUF":
            raise GGUFError(f"{path.name} is not a GGUF file")
        version = reader.take("<I")
        if version not in (2, 3):
            raise GGUFError(f"unsupported GGUF version {version}")
        reader.take("<Q")  # tensor count
        count = reader.take("<Q")
        if count > _MAX_KEYS:
            raise GGUFError(f"implausible key count {count}")
        found: dict[str, Any] = {"GGUF.version": version}
        for _ in range(count):
            key = reader.string() or ""
            kind = reader.take("<I")
            found[key] = reader.value(kind, keep=True)
        return found


def read_info(path: Path) -> GGUFInfo:
    meta = read_metadata(path)
    arch = meta.get("general.architecture")
    file_type = meta.get("general.file_type")
    return GGUFInfo(
        version=int(meta["GGUF.version"]), architecture=arch, name=meta.get("general.name"),
        context_length=meta.get(f"{arch}.context_length"),
        embedding_length=meta.get(f"{arch}.embedding_length"),
        chat_template=meta.get("tokenizer.chat_template"),
        quantization=FILE_TYPES.get(file_type) if isinstance(file_type, int) else None,
        size_label=meta.get("general.size_label"))
