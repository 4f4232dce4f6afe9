"""Property tests of the server-sent-event readers: the companion's (``SseReader``, under
every stream translator; ``SseRewriter``, the MCP proxy's) and the extension's
(``extension/background/sse.js``, run in node on batches of generated streams).

Any split of a valid event stream into chunks reads as the same events; CRLF, LF and CR line
ends alike; comments and fields other than ``data`` ignored; a stream cut in the middle of an
event is reported rather than silently dropped.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.families.sse import SseReader
from companion.mcp.messages import SseRewriter

SSE_JS = Path(__file__).resolve().parents[2] / "extension" / "background" / "sse.js"

# Line text: anything but line ends (non-ASCII included, so a split can fall inside a
# character's UTF-8 bytes).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
               max_size=12)
ENDS = st.sampled_from([b"\n", b"\r\n", b"\r"])
OTHER_LINES = st.lists(st.one_of(TEXT.map(lambda t: ":" + t),
                                 st.sampled_from(["event: message", "id: 7", "retry: 10",
                                                  "x-unknown: 1", "event"])), max_size=2)


def _data_line(line: str, tight: bool) -> str:
    return f"data:{line}" if tight and not line.startswith(" ") else f"data: {line}"


@st.composite
def events(draw: st.DrawFn) -> tuple[list[str], bytes]:
    """Events' data (one or more data lines each), and the stream that carries them."""
    end = draw(ENDS)
    datas: list[str] = []
    stream = b""
    for _ in range(draw(st.integers(0, 5))):
        lines = draw(st.lists(TEXT, min_size=1, max_size=3))
        others = draw(OTHER_LINES)
        data = "\n".join(lines)
        # One space after the colon is optional (and dropped); a second one is data.
        block = [*others, *(_data_line(line, draw(st.booleans())) for line in lines)]
        datas.append(data)
        stream += end.join(part.encode() for part in block) + end + end
    if draw(st.booleans()):
        stream += b":keep-alive" + end + end
    return [d for d in datas if d], stream


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


CUTS = st.lists(st.integers(0, 400), max_size=12)


@settings(max_examples=300, deadline=None)
@given(events(), CUTS)
def test_any_split_reads_as_the_same_events(case: tuple[list[str], bytes],
                                            cuts: list[int]) -> None:
    datas, stream = case
    reader = SseReader()
    got = [item for chunk in _split(stream, cuts) for item in reader.feed(chunk)]

    assert [d.decode() for d in got + reader.close()] == datas


@settings(max_examples=200, deadline=None)
@given(events(), st.integers(1, 400))
def test_a_stream_cut_mid_event_hands_on_what_came(case: tuple[list[str], bytes],
                                                   cut: int) -> None:
    datas, stream = case
    stream = stream + b'data: {"cut": "he'
    reader = SseReader()
    got = [item for chunk in _split(stream, [cut]) for item in reader.feed(chunk)]

    assert got == [d.encode() for d in datas]
    assert reader.close() == [b'{"cut": "he']


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(TEXT, st.integers() | TEXT, max_size=3), max_size=4),
       ENDS, CUTS)
def test_the_mcp_rewriter_keeps_every_event_whatever_the_split(
        messages: list[dict[str, Any]], end: bytes, cuts: list[int]) -> None:
    stream = b"".join(b"event: message" + end + b"data: " + json.dumps(m).encode() + end + end
                      for m in messages if end != b"\r")
    rewriter = SseRewriter(lambda message: message)
    out = b"".join(rewriter.feed(chunk) for chunk in _split(stream, cuts)) + rewriter.flush()

    reader = SseReader()
    assert [json.loads(d) for d in reader.feed(out) + reader.close()] == \
        [m for m in messages if end != b"\r"]


# --- the extension's reader, in node ----------------------------------------------------------

HARNESS = """
const { sseEvents } = await import(process.argv[1]);
const cases = JSON.parse(await new Response(process.stdin).text());
const out = [];
for (const chunks of cases) {
  const pieces = chunks.map((c) => Uint8Array.from(atob(c), (ch) => ch.charCodeAt(0)));
  const body = new ReadableStream({
    pull(controller) {
      const piece = pieces.shift();
      if (piece === undefined) controller.close(); else controller.enqueue(piece);
    },
  });
  const got = { events: [], error: null };
  try {
    for await (const data of sseEvents(body)) got.events.push(data);
  } catch (err) { got.error = err.code ?? String(err); }
  out.push(got);
}
console.log(JSON.stringify(out));
"""

BATCH = 60


def _node(cases: list[list[bytes]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the extension's JavaScript")
    payload = json.dumps([[base64.b64encode(c).decode() for c in chunks] for chunks in cases])
    done = subprocess.run([node, "--input-type=module", "-e", HARNESS, SSE_JS.as_uri()],
                          input=payload, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


@settings(max_examples=6, deadline=None)
@given(st.lists(st.tuples(events(), CUTS), min_size=BATCH, max_size=BATCH))
def test_the_extension_reads_any_split_as_the_same_events(
        batch: list[tuple[tuple[list[str], bytes], list[int]]]) -> None:
    results = _node([_split(stream, cuts) for (_, stream), cuts in batch])

    for ((datas, stream), _), got in zip(batch, results, strict=True):
        assert got == {"events": datas, "error": None}, stream


@settings(max_examples=4, deadline=None)
@given(st.lists(st.tuples(events(), st.integers(1, 400)), min_size=BATCH, max_size=BATCH))
def test_the_extension_reports_a_stream_cut_mid_event(
        batch: list[tuple[tuple[list[str], bytes], int]]) -> None:
    streams = [stream + b'data: {"cut": "he' for (_, stream), _ in batch]
    results = _node([_split(stream, [cut]) for stream, (_, cut) in zip(streams, batch,
                                                                       strict=True)])

    for ((datas, _), _), got in zip(batch, results, strict=True):
        assert got == {"events": datas, "error": "unreachable"}
