"""The extension's icons, drawn in code so the repository holds no binary images.

A rounded green square with a white leaf on it (the lens between two circles, tilted 45
degrees, with a short stem), written as RGBA PNGs with nothing but zlib and struct. Each
pixel is the coverage of 4x4 samples, so the small sizes stay smooth.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

SIZES = (16, 32, 48, 128)
BACKGROUND = (47, 111, 79)
LEAF = (255, 255, 255)
_SAMPLES = 4


def _in_rounded_square(x: float, y: float) -> bool:
    radius, half = 0.22, 0.5
    dx = max(abs(x - half) - (half - radius), 0.0)
    dy = max(abs(y - half) - (half - radius), 0.0)
    return dx * dx + dy * dy <= radius * radius


def _in_leaf(x: float, y: float) -> bool:
    # Rotate by 45 degrees around the centre so the leaf's axis runs from bottom-left to
    # top-right, then test the lens |u| <= 0.3 between two circles offset along v.
    cx, cy = x - 0.5, y - 0.5
    u = (cx - cy) * math.sqrt(0.5)          # image y grows downwards
    v = (cx + cy) * math.sqrt(0.5)
    radius, offset = 0.38, 0.22
    lens = (u * u + (v - offset) ** 2 <= radius * radius
            and u * u + (v + offset) ** 2 <= radius * radius)
    stem = -0.42 <= u <= -0.2 and abs(v) <= 0.04
    return lens or stem


def _pixel(px: int, py: int, size: int) -> bytes:
    background = leaf = 0
    for sy in range(_SAMPLES):
        for sx in range(_SAMPLES):
            x = (px + (sx + 0.5) / _SAMPLES) / size
            y = (py + (sy + 0.5) / _SAMPLES) / size
            if _in_rounded_square(x, y):
                background += 1
                leaf += _in_leaf(x, y)
    total = _SAMPLES * _SAMPLES
    if not background:
        return bytes(4)
    mix = leaf / background
    rgb = (round(b + (f - b) * mix) for b, f in zip(BACKGROUND, LEAF, strict=True))
    return bytes((*rgb, round(255 * background / total)))


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def icon_png(size: int) -> bytes:
    rows = b"".join(b"\x00" + b"".join(_pixel(x, y, size) for x in range(size))
                    for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)      # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b""))


def write_icons(folder: Path) -> dict[str, str]:
    """Writes icon-<size>.png into `folder`; returns the manifest's {size: path} map."""
    folder.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        (folder / f"icon-{size}.png").write_bytes(icon_png(size))
    return {str(size): f"{folder.name}/icon-{size}.png" for size in SIZES}
