"""How the extension reads a companion stream, run in node with the real sse.js: an OpenAI
error event in the middle of a chat stream throws the companion's error, a chat stream cut
before `[DONE]` throws `unreachable`, and a JSON-RPC reply with an `error` member (MCP) is an
ordinary message."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

SSE = Path(__file__).resolve().parents[2] / "extension" / "background" / "sse.js"

# Reads each body (a list of raw pieces; "CUT" makes the connection fail there) with sseJson
# and prints, per body, the events it yielded and the error it threw.
HARNESS = """
const { sseJson } = await import(process.argv[1]);
const bodies = JSON.parse(process.argv[2]);
const out = [];
for (const { pieces, openai } of bodies) {
  const body = new ReadableStream({
    async pull(controller) {
      const piece = pieces.shift();
      if (piece === undefined) controller.close();
      else if (piece === 'CUT') controller.error(new TypeError('network error'));
      else controller.enqueue(new TextEncoder().encode(piece));
    },
  });
  const got = { events: [], error: null };
  try {
    for await (const event of sseJson(body, undefined, { openai })) got.events.push(event);
  } catch (err) {
    got.error = { code: err.code, message: err.message, status: err.status ?? null,
                  body: err.body ?? null };
  }
  out.push(got);
}
console.log(JSON.stringify(out));
"""

CHUNK = 'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n'
LOST = {"error": {"message": "The model server stopped while answering; try again.",
                  "type": "upstream_error", "param": None, "code": "model_server_lost"}}


def read(*bodies: dict[str, Any]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the extension's JavaScript")
    done = subprocess.run([node, "--input-type=module", "-e", HARNESS, SSE.as_uri(),
                           json.dumps(list(bodies))], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def test_chat_streams_end_at_done_and_fail_on_an_error_event_or_a_cut() -> None:
    whole, failed, llama, cut, short = read(
        {"pieces": [CHUNK, "data: [DONE]\n\n"], "openai": True},
        {"pieces": [CHUNK, f"data: {json.dumps(LOST)}\n\n"], "openai": True},
        {"pieces": [CHUNK, 'error: {"error": {"code": 500, "message": "boom"}}\n\n'],
         "openai": True},
        {"pieces": [CHUNK, "CUT"], "openai": True},
        {"pieces": [CHUNK], "openai": True})

    assert (len(whole["events"]), whole["error"]) == (1, None)
    assert len(failed["events"]) == 1
    assert failed["error"] == {"code": "api_error", "message": LOST["error"]["message"],
                               "status": None, "body": LOST}
    assert llama["error"] == {"code": "api_error", "message": "boom", "status": 500,
                              "body": {"error": {"code": 500, "message": "boom"}}}
    for broken in (cut, short):
        assert broken["error"]["code"] == "unreachable", broken


def test_a_json_rpc_error_is_an_ordinary_message() -> None:
    reply = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no such method"}}

    [got] = read({"pieces": [f"data: {json.dumps(reply)}\n\n"], "openai": False})

    assert got == {"events": [reply], "error": None}
