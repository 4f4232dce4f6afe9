"""companion/mcp/stdio_process.py: StdioServers supervising real bridges that run the test
stdio server, used through the endpoints it leases."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from mcp import MCPError

from companion.core.errors import McpServerError
from companion.core.upstream import ChildClient, make_child_session
from companion.mcp.endpoint import McpEndpoint
from companion.mcp.stdio_process import StdioServers, StdioState
from tests.conftest import alive, wait_until
from tests.integration.mcp_stdio import (
    CALL_LIMIT_SECS,
    ROOT,
    SECRET,
    TOOLS,
    call_text,
    descendants,
    kill_all,
    mcp_session,
)

WAIT_SECS = 10.0


async def eventually(predicate: object, limit: float = WAIT_SECS) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def whoami(endpoint: McpEndpoint) -> int:
    async with mcp_session(endpoint.url, endpoint.headers) as session:
        return int(await call_text(session, "whoami"))


class Supervised:
    """A StdioServers with the keep-alive a test asks for; every process it ran is tracked,
    so that a failing test still leaves nothing behind."""

    def __init__(self, log_dir: Path, client: ChildClient) -> None:
        self.log_dir = log_dir
        self.client = client
        self.seen: set[int] = set()
        self.servers = StdioServers(log_dir, client, 300)

    def with_keep_alive(self, secs: int) -> StdioServers:
        self.servers = StdioServers(self.log_dir, self.client, lambda: secs)
        return self.servers

    def pids(self) -> list[int]:
        """Bridges running now, and their stdio servers."""
        found = [pid for p in self.servers.running() if (pid := p.pid) is not None]
        found += [kid for pid in found for kid in descendants(pid)]
        self.seen.update(found)
        return found


@pytest.fixture
async def supervised(tmp_path: Path) -> AsyncIterator[Supervised]:
    session = make_child_session()
    tracked = Supervised(tmp_path / "logs", ChildClient(session))
    try:
        yield tracked
    finally:
        tracked.pids()
        await tracked.servers.stop_all()
        await session.close()
        kill_all(alive(sorted(tracked.seen)))


async def test_concurrent_leases_start_one_bridge(supervised: Supervised) -> None:
    servers = supervised.servers

    async def use() -> int:
        async with servers.lease("s1", "tools", TOOLS) as endpoint:
            return await whoami(endpoint)

    pids = await asyncio.gather(*(use() for _ in range(4)))
    assert len(set(pids)) == 1
    [process] = servers.running()
    assert process.state is StdioState.READY and process.in_flight == 0
    assert descendants(process.pid or 0) == [pids[0]]
    log = (supervised.log_dir / "mcp-tools.log").read_text()
    assert "tools server on stdio" in log and SECRET not in log


async def test_an_idle_server_stops_after_the_keep_alive(supervised: Supervised) -> None:
    servers = supervised.with_keep_alive(1)
    async with servers.lease("s1", "tools", TOOLS) as endpoint:
        pids = supervised.pids()
        await asyncio.sleep(1.5)       # in use for longer than the keep-alive: still running
        assert await whoami(endpoint) in pids
    assert servers.running()
    assert await eventually(lambda: not servers.running(), 5.0)
    assert await eventually(lambda: not alive(pids))


async def test_keep_alive_minus_one_never_stops(supervised: Supervised) -> None:
    servers = supervised.with_keep_alive(-1)
    async with servers.lease("s1", "tools", TOOLS):
        pass
    await asyncio.sleep(1.0)
    assert servers.running()


async def test_a_crashed_server_restarts_on_the_next_lease(supervised: Supervised) -> None:
    servers = supervised.servers
    async with servers.lease("s1", "tools", TOOLS) as endpoint:
        first = await whoami(endpoint)
        async with mcp_session(endpoint.url, endpoint.headers) as session:
            with anyio.fail_after(CALL_LIMIT_SECS), pytest.raises(MCPError):
                await session.call_tool("crash", {})
    assert await eventually(lambda: not servers.running())
    async with servers.lease("s1", "tools", TOOLS) as endpoint:
        second = await whoami(endpoint)
    assert second != first


async def test_a_changed_spec_restarts_the_server(supervised: Supervised) -> None:
    servers = supervised.servers
    async with servers.lease("s1", "tools", TOOLS) as endpoint:
        first = await whoami(endpoint)
        old = supervised.pids()
    edited = replace(TOOLS, env={"TOOLS_API_KEY": "rotated"})
    async with servers.lease("s1", "tools", edited) as endpoint:
        second = await whoami(endpoint)
    assert second != first
    assert alive(old) == []
    assert len(servers.running()) == 1


async def test_a_command_that_cannot_run_is_a_clear_error(supervised: Supervised) -> None:
    missing = replace(TOOLS, command="/nonexistent/mcp-server", args=())
    with pytest.raises(McpServerError) as caught:
        async with supervised.servers.lease("s1", "broken", missing):
            pytest.fail("leased a server that cannot run")
    error = caught.value
    assert (error.status, error.code) == (503, "mcp_server_unavailable")
    assert "'broken' failed to start" in error.message
    assert "cannot run /nonexistent/mcp-server" in error.message
    assert SECRET not in error.message
    assert supervised.servers.running() == []


async def test_a_server_that_exits_at_once_shows_its_last_words(supervised: Supervised) -> None:
    quits = replace(TOOLS, args=("-c", "import sys; sys.exit('no config found')"))
    with pytest.raises(McpServerError, match="no config found"):
        async with supervised.servers.lease("s1", "quits", quits):
            pytest.fail("leased a server that exited")


async def test_stop_and_stop_all_leave_no_process(supervised: Supervised) -> None:
    servers = supervised.servers
    async with servers.lease("s1", "one", TOOLS), servers.lease("s2", "two", TOOLS):
        pids = supervised.pids()
    assert len(pids) == 4
    assert await servers.stop("s1") is True
    assert await servers.stop("s1") is False
    assert [p.server_id for p in servers.running()] == ["s2"]
    await servers.stop_all()
    assert servers.running() == []
    assert alive(pids) == []


_OWNER = """
import asyncio, sys
from pathlib import Path
from companion.core.upstream import ChildClient, make_child_session
from companion.mcp.stdio_process import StdioServers
from tests.integration.mcp_stdio import TOOLS

async def main():
    servers = StdioServers(Path(sys.argv[1]), ChildClient(make_child_session()), 300)
    async with servers.lease("s1", "tools", TOOLS):
        print(servers.running()[0].pid, flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


def test_kill_9_of_the_owner_leaves_nothing(tmp_path: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, str(tmp_path / "logs")],
                             cwd=ROOT, stdout=subprocess.PIPE, env=os.environ.copy())
    pids: list[int] = []
    try:
        assert owner.stdout is not None
        assert select.select([owner.stdout], [], [], 30)[0], "the owner never leased"
        bridge = int(owner.stdout.readline())
        pids = [bridge, *descendants(bridge)]
        assert len(pids) == 2
        owner.send_signal(signal.SIGKILL)
        owner.wait(5)
        assert wait_until(lambda: not alive(pids), WAIT_SECS), f"left behind: {alive(pids)}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(5)
        if owner.stdout is not None:
            owner.stdout.close()
        kill_all(alive(pids))
