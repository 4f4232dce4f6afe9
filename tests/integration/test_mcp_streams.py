"""The proxy's stream edges against a real upstream: a client that leaves closes the upstream
request, and a stream cut mid-reply ends with a JSON-RPC error for the waiting request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_until
from tests.integration.mcp_api import WAIT_SECS, Bodhi, bearer
from tests.mcp_servers import serving

CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "work", "arguments": {}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    record = tmp_path_factory.mktemp("streams") / "record"
    with serving("streams", "--record", str(record)) as url:
        yield url, record


def _proxy(bodhi: Bodhi, upstream: str, name: str) -> tuple[str, dict[str, str]]:
    instance = bodhi.connect(name, upstream)
    token = bodhi.api_token(mcps=[instance])
    return f"{bodhi.url}/bodhi/v1/mcps/{instance}/mcp", {**bearer(token), **ACCEPT}


def test_a_client_that_leaves_closes_the_upstream_request(
        bodhi: Bodhi, streams: tuple[str, Path]) -> None:
    base, record = streams
    url, headers = _proxy(bodhi, base + "/endless", "endless")
    with httpx.stream("POST", url, headers=headers, json=CALL, timeout=WAIT_SECS) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        first = next(line for line in reply.iter_lines() if line.startswith("data:"))
        assert json.loads(first[5:])["params"]["progressToken"] == 7
        assert not record.exists()
    # Leaving the block closed our connection mid-stream.
    assert wait_until(record.exists, timeout=5), "the upstream request stayed open"


def test_a_stream_cut_mid_reply_ends_with_a_json_rpc_error(
        bodhi: Bodhi, streams: tuple[str, Path]) -> None:
    base, _ = streams
    url, headers = _proxy(bodhi, base + "/broken", "broken")
    reply = httpx.post(url, headers=headers, json=CALL, timeout=WAIT_SECS)
    assert reply.status_code == 200  # the stream had begun
    events = [json.loads(line[5:]) for line in reply.text.splitlines()
              if line.startswith("data:")]
    assert events[0]["method"] == "notifications/progress"
    assert events[-1]["id"] == 7 and events[-1]["error"]["code"] == -32603
    assert "'broken'" in events[-1]["error"]["message"]
    assert httpx.get(bodhi.url + "/ping", timeout=WAIT_SECS).status_code == 200
