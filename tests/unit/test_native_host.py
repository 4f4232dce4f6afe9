"""native_host: length-prefixed JSON frames and the dispatch loop, over in-memory streams."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import pytest

from companion import __version__
from native_host import host
from native_host.caller import Caller
from native_host.framing import (
    MAX_REPLY_BYTES,
    MAX_REQUEST_BYTES,
    FrameError,
    read_frame,
    write_frame,
)


def frame(payload: bytes) -> bytes:
    return struct.pack("=I", len(payload)) + payload


def encode(*messages: dict[str, Any]) -> io.BytesIO:
    buffer = io.BytesIO()
    for message in messages:
        write_frame(buffer, message)
    buffer.seek(0)
    return buffer


def run(data: bytes) -> list[dict[str, Any]]:
    out = io.BytesIO()
    host.serve(io.BytesIO(data), out)
    out.seek(0)
    replies = []
    while (reply := read_frame(out)) is not None:
        replies.append(reply)
    return replies


# --- framing -------------------------------------------------------------------------------


def test_frames_round_trip() -> None:
    messages = [{"id": 1, "action": "ping"}, {"id": "two", "text": "naïve ☃", "n": [1, 2.5]},
                {}]
    buffer = encode(*messages)

    assert [read_frame(buffer) for _ in messages] == messages
    assert read_frame(buffer) is None


def test_frame_is_native_length_then_compact_utf8_json() -> None:
    buffer = io.BytesIO()

    write_frame(buffer, {"a": "é", "b": [1, 2]})

    data = buffer.getvalue()
    (length,) = struct.unpack("=I", data[:4])
    assert length == len(data) - 4
    assert json.loads(data[4:].decode("utf-8")) == {"a": "é", "b": [1, 2]}
    assert b" " not in data[4:]


@pytest.mark.parametrize(
    ("data", "recoverable"),
    [
        (b"\x01\x00", False),                                   # truncated length
        (struct.pack("=I", 10) + b"{}", False),                 # truncated payload
        (struct.pack("=I", MAX_REQUEST_BYTES + 1), False),      # too large
        (frame(b"{not json"), True),
        (frame(b"[1, 2]"), True),
        (frame(b"\xff\xfe"), True),
        (frame(b"[" * 100_000 + b"]" * 100_000), True),       # past the recursion limit
    ],
)
def test_bad_frames(data: bytes, recoverable: bool) -> None:
    with pytest.raises(FrameError) as info:
        read_frame(io.BytesIO(data))

    assert info.value.recoverable is recoverable


def test_oversize_reply_is_refused() -> None:
    buffer = io.BytesIO()

    with pytest.raises(FrameError):
        write_frame(buffer, {"blob": "x" * MAX_REPLY_BYTES})

    assert buffer.getvalue() == b""


# --- serve ---------------------------------------------------------------------------------


def test_ping_answers_with_the_same_id() -> None:
    replies = run(encode({"id": "req-7", "action": "ping"}).getvalue())

    assert replies == [{"id": "req-7", "ok": True,
                        "result": {"pong": True, "version": __version__}}]


def test_unknown_action() -> None:
    [reply] = run(encode({"id": 3, "action": "format_disk"}).getvalue())

    assert reply["id"] == 3
    assert reply["ok"] is False
    assert reply["error"]["code"] == "unknown_action"
    assert "format_disk" in reply["error"]["message"]


def test_missing_action_is_unknown() -> None:
    [reply] = run(encode({"id": 4}).getvalue())

    assert (reply["ok"], reply["error"]["code"]) == (False, "unknown_action")


def test_malformed_frame_gets_an_error_and_the_host_goes_on() -> None:
    data = (encode({"id": 1, "action": "ping"}).getvalue() + frame(b"{oops")
            + frame(b'"a string"') + encode({"id": 2, "action": "ping"}).getvalue())

    replies = run(data)

    assert [(r["id"], r["ok"]) for r in replies] == [(1, True), (None, False), (None, False),
                                                      (2, True)]
    assert replies[1]["error"]["code"] == "bad_frame"
    assert replies[2]["error"]["code"] == "bad_frame"


def test_deeply_nested_frame_gets_an_error_and_the_host_goes_on() -> None:
    deep = b'{"id": 1, "action": "ping", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    data = frame(deep) + encode({"id": 2, "action": "ping"}).getvalue()

    replies = run(data)

    assert [(r["id"], r["ok"]) for r in replies] == [(None, False), (2, True)]
    assert "nested deeper" in replies[0]["error"]["message"]


def test_oversize_length_gets_an_error_and_stops() -> None:
    data = (struct.pack("=I", MAX_REQUEST_BYTES + 1) + b"{}"
            + encode({"id": 9, "action": "ping"}).getvalue())

    replies = run(data)

    assert len(replies) == 1
    assert replies[0]["ok"] is False
    assert replies[0]["error"]["code"] == "bad_frame"
    assert "too large" in replies[0]["error"]["message"]


def test_truncated_input_gets_an_error_and_stops() -> None:
    replies = run(encode({"id": 1, "action": "ping"}).getvalue() + struct.pack("=I", 50) + b"{")

    assert [r["ok"] for r in replies] == [True, False]
    assert replies[1]["error"]["code"] == "bad_frame"


def test_clean_end_of_input_ends_quietly() -> None:
    assert run(b"") == []


def test_failing_action_is_reported_and_the_host_goes_on(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    def explode(message: dict[str, Any], caller: Caller) -> dict[str, Any]:
        raise ValueError("no good")

    monkeypatch.setitem(host.ACTIONS, "explode", explode)

    replies = run(encode({"id": 1, "action": "explode"}, {"id": 2, "action": "ping"}).getvalue())

    assert replies[0] == {"id": 1, "ok": False,
                          "error": {"code": "internal_error", "message": "ValueError: no good"}}
    assert replies[1]["ok"] is True


def test_a_reply_over_the_limit_becomes_an_error_and_the_host_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(host.ACTIONS, "huge",
                        lambda message, caller: {"blob": "x" * MAX_REPLY_BYTES})

    replies = run(encode({"id": 1, "action": "huge"}, {"id": 2, "action": "ping"}).getvalue())

    assert replies[0]["id"] == 1 and replies[0]["error"]["code"] == "reply_too_large"
    assert replies[1]["id"] == 2 and replies[1]["ok"] is True


@pytest.mark.parametrize("action", ["ping", "x" * (MAX_REPLY_BYTES + 10)])
def test_a_huge_id_or_action_cannot_push_a_reply_over_the_limit(action: str) -> None:
    huge_id = "i" * (MAX_REPLY_BYTES + 10)
    data = (frame(json.dumps({"id": huge_id, "action": action}).encode())
            + encode({"id": 2, "action": "ping"}).getvalue())

    replies = run(data)

    assert replies[0]["id"] is None
    assert len(json.dumps(replies[0])) < 1000
    assert replies[1] == {"id": 2, "ok": True, "result": {"pong": True, "version": __version__}}


def test_only_short_string_or_number_ids_are_echoed() -> None:
    replies = run(encode({"id": {"nested": 1}, "action": "ping"},
                         {"id": "n7", "action": "ping"}).getvalue())
    assert [r["id"] for r in replies] == [None, "n7"]
