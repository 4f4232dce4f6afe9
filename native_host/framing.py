"""Native-messaging frames: a 4-byte length in native byte order, then UTF-8 JSON."""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from companion.core import json_limits

MAX_REPLY_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = 4 * 1024 * 1024
_LENGTH = struct.Struct("=I")


class FrameError(Exception):
    """A frame that is truncated, too large, or not a JSON object.

    ``recoverable`` is true when the bad frame was consumed whole, so the next one can be read.
    """

    def __init__(self, message: str, *, recoverable: bool = False) -> None:
        super().__init__(message)
        self.recoverable = recoverable


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    """The next message, or ``None`` at a clean end of input."""
    header = stream.read(_LENGTH.size)
    if not header:
        return None
    if len(header) < _LENGTH.size:
        raise FrameError("truncated length prefix")
    (length,) = _LENGTH.unpack(header)
    if length > MAX_REQUEST_BYTES:
        raise FrameError(f"message of {length} bytes is too large")
    payload = stream.read(length)
    if len(payload) < length:
        raise FrameError("truncated message")
    try:
        message = json_limits.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"message is not UTF-8 JSON: {exc}", recoverable=True) from exc
    if not isinstance(message, dict):
        raise FrameError("message must be a JSON object", recoverable=True)
    return message


def write_frame(stream: BinaryIO, message: dict[str, Any]) -> None:
    payload = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(payload) > MAX_REPLY_BYTES:
        raise FrameError(f"reply of {len(payload)} bytes exceeds the 1 MiB limit")
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()
