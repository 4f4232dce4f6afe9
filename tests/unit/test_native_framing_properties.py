"""Property tests of native-messaging framing (``native_host/framing.py``): a 4-byte length
in native byte order, then UTF-8 JSON.

Frames round-trip however the pipe hands the bytes over; a stream cut anywhere is a clean end
(at a frame boundary) or a ``FrameError``, never another exception or a wrong message; a
length over the limit is refused without reading the payload; and the host answers any input
with well-formed frames.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from native_host.framing import MAX_REQUEST_BYTES, FrameError, read_frame, write_frame
from native_host.host import serve

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=8)
MESSAGES = st.lists(st.dictionaries(st.text(max_size=8), JSON, max_size=5), max_size=5)
LENGTH = struct.Struct("=I")


class Trickle(io.RawIOBase):
    """A pipe that hands over at most the next piece's size per read, as a real one may."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes = memoryview(data), sizes or [len(data) or 1]
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._sizes[self._at % len(self._sizes)], len(self._data))
        self._at += 1
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


def _frames(messages: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    for message in messages:
        write_frame(out, message)
    return out.getvalue()


def _read_all(stream: io.BufferedReader) -> list[dict[str, Any]]:
    got = []
    while (message := read_frame(stream)) is not None:
        got.append(message)
    return got


@settings(max_examples=100, deadline=None)
@given(MESSAGES, st.lists(st.integers(1, 7), max_size=6))
def test_frames_round_trip_however_the_pipe_splits_them(messages: list[dict[str, Any]],
                                                        sizes: list[int]) -> None:
    stream = io.BufferedReader(Trickle(_frames(messages), sizes), buffer_size=8)

    assert _read_all(stream) == messages


@settings(max_examples=100, deadline=None)
@given(MESSAGES.filter(bool), st.data())
def test_a_cut_stream_ends_cleanly_or_with_a_frame_error(messages: list[dict[str, Any]],
                                                         data: st.DataObject) -> None:
    whole = _frames(messages)
    cut = data.draw(st.integers(0, len(whole) - 1))
    bounds = {len(_frames(messages[:n])) for n in range(len(messages) + 1)}
    stream = io.BytesIO(whole[:cut])

    if cut in bounds:
        assert _read_all(stream) == messages[:[*sorted(bounds)].index(cut)]
    else:
        with pytest.raises(FrameError) as caught:
            _read_all(stream)
        assert not caught.value.recoverable


@settings(max_examples=50, deadline=None)
@given(st.integers(MAX_REQUEST_BYTES + 1, 2**32 - 1))
def test_a_length_over_the_limit_is_refused_unread(length: int) -> None:
    stream = io.BytesIO(LENGTH.pack(length) + b"{}")

    with pytest.raises(FrameError, match="too large") as caught:
        read_frame(stream)
    assert not caught.value.recoverable
    assert stream.tell() == LENGTH.size


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_a_bad_payload_is_a_recoverable_frame_error(payload: bytes) -> None:
    try:
        json.loads(payload)
    except ValueError:
        stream = io.BytesIO(LENGTH.pack(len(payload)) + payload + _frames([{"next": 1}]))
        with pytest.raises(FrameError) as caught:
            read_frame(stream)
        assert caught.value.recoverable
        assert read_frame(stream) == {"next": 1}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.binary(max_size=12).map(lambda b: LENGTH.pack(len(b)) + b),
    st.dictionaries(st.text(max_size=5), JSON, max_size=3).map(lambda m: _frames([m])),
    st.binary(max_size=6)), max_size=6))
def test_the_host_answers_any_input_with_well_formed_frames(pieces: list[bytes]) -> None:
    out = io.BytesIO()
    serve(io.BytesIO(b"".join(pieces)), out)

    replies = io.BytesIO(out.getvalue())
    for reply in iter(lambda: read_frame(replies), None):
        assert isinstance(reply, dict)
        assert reply.get("ok") is not None or "error" in reply, reply
