"""A local stdio MCP server registered in the real companion: a tool call through the proxy,
its log, a restart after it crashes, and nothing left behind when the companion is killed."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import MCPError

from tests.conftest import alive, wait_until
from tests.integration.mcp_api import WAIT_SECS, Bodhi, bodhi_running, sdk_session
from tests.integration.mcp_stdio import call_text, descendants, kill_all
from tests.mcp_servers import ROOT

STDIO = {"command": sys.executable, "args": ["-m", "tests.mcp_servers.tools", "--stdio"],
         "cwd": str(ROOT), "env": {"TOOLS_LOG_HINT": "stdio"}}


@pytest.fixture
def bodhi(tmp_path: Path) -> Iterator[Bodhi]:
    with bodhi_running(tmp_path) as running:
        yield running


def _local(bodhi: Bodhi, name: str = "local tools") -> tuple[str, str]:
    """A stdio server, one instance, a token for it: (proxy URL, token)."""
    server = bodhi.server(name, **STDIO)
    instance = bodhi.instance(server["id"], "local")["id"]
    return (f"{bodhi.url}/bodhi/v1/mcps/{instance}/mcp", bodhi.api_token(mcps=[instance]))


async def _whoami(url: str, token: str) -> int:
    async with sdk_session(url, token) as session:
        return int(await call_text(session, "whoami"))


async def test_a_stdio_server_through_the_proxy_restarts_after_a_crash(bodhi: Bodhi) -> None:
    url, token = _local(bodhi)
    async with sdk_session(url, token) as session:
        assert await call_text(session, "add", a=2, b=2) == "4"
        first = int(await call_text(session, "whoami"))
        with anyio.fail_after(WAIT_SECS), pytest.raises(MCPError):
            await session.call_tool("crash", {})
    log = (bodhi.companion.home / "logs" / "mcp-local-tools.log").read_text()
    assert "tools server on stdio" in log
    # The very next call, with no pause, finds the server restarted.
    second = await _whoami(url, token)
    assert second != first
    assert await _whoami(url, token) == second


def test_kill_9_of_the_companion_leaves_no_stdio_process(bodhi: Bodhi) -> None:
    url, token = _local(bodhi)
    second_pid = anyio.run(_whoami, url, token)
    companion = bodhi.companion
    assert companion.proc is not None
    pids = descendants(companion.proc.pid)
    assert second_pid in pids and len(pids) >= 2     # the bridge and its stdio server
    try:
        companion.stop(signal.SIGKILL)
        assert wait_until(lambda: not alive(pids), WAIT_SECS), f"left behind: {alive(pids)}"
    finally:
        kill_all(alive(pids))


def test_an_apps_call_right_after_a_crash_restarts_the_server(bodhi: Bodhi) -> None:
    server = bodhi.server("local tools", **STDIO)
    instance = bodhi.instance(server["id"], "local")["id"]
    app = bodhi.grant([{"name": "local tools"}], [instance])["access_token"]

    def whoami() -> str:
        reply = bodhi.call(instance, app, "tools/call", name="whoami", arguments={})
        assert reply.status_code == 200, reply.text
        return str(reply.json()["result"]["content"][0]["text"])

    first = whoami()
    assert bodhi.call(instance, app, "tools/call", name="crash", arguments={}
                      ).status_code == 502
    assert whoami() != first  # the very next call, with no pause
