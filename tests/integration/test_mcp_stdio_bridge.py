"""companion/mcp/stdio_bridge.py as a real process: the test stdio server behind it, reached
with the SDK's Streamable HTTP client."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import httpx
import psutil
import pytest
from mcp import MCPError

from companion.mcp.stdio_spec import KEY_ENV, SPEC_ENV, StdioSpec
from tests.conftest import alive, free_port, wait_until
from tests.integration.mcp_stdio import (
    CALL_LIMIT_SECS,
    SECRET,
    TOOLS,
    call_text,
    descendants,
    kill_all,
    mcp_session,
)

START_LIMIT_SECS = 30.0


@dataclass
class Bridge:
    proc: subprocess.Popen[bytes]
    base: str
    key: str
    log: Path

    @property
    def url(self) -> str:
        return self.base + "/mcp"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def stdio_pids(self) -> list[int]:
        return descendants(self.proc.pid)

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            return False
        try:
            return httpx.get(self.base + "/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False


@contextlib.contextmanager
def running_bridge(tmp_path: Path, spec: StdioSpec = TOOLS, *, wait: bool = True
                   ) -> Iterator[Bridge]:
    port, key, log = free_port(), secrets.token_urlsafe(16), tmp_path / "mcp-tools.log"
    env = {**os.environ, SPEC_ENV: spec.to_json(), KEY_ENV: key}
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "companion.mcp.stdio_bridge", "--port", str(port),
             "--log", str(log)], env=env, stdout=out, stderr=subprocess.STDOUT)
    bridge = Bridge(proc, f"http://127.0.0.1:{port}", key, log)
    leftovers: list[int] = []
    try:
        if wait:
            assert wait_until(bridge.healthy, START_LIMIT_SECS), log.read_text()
            leftovers = bridge.stdio_pids()
        yield bridge
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        kill_all(alive(leftovers))


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[Bridge]:
    with running_bridge(tmp_path) as started:
        yield started


async def test_the_bridge_serves_the_stdio_server(bridge: Bridge) -> None:
    async with mcp_session(bridge.url, bridge.headers) as session:
        init = session.initialize_result
        assert init is not None and init.server_info.name == "bodhi-test-tools"
        assert init.instructions == "Tools for the companion's tests."
        caps = init.capabilities
        assert caps.tools and caps.resources and caps.prompts and caps.completions is None
        with anyio.fail_after(CALL_LIMIT_SECS):
            tools = {tool.name for tool in (await session.list_tools()).tools}
            resource = await session.read_resource("test://greeting")
            prompt = await session.get_prompt("review", {"code": "x = 1"})
        assert {"echo", "add", "count", "whoami", "crash"} <= tools
        assert await call_text(session, "add", a=2, b=3) == "5"
        assert getattr(resource.contents[0], "text", None) == "hello from the test server"
        message = prompt.messages[0].content
        assert message.type == "text" and "x = 1" in message.text


async def test_a_failing_tool_is_a_result_and_the_bridge_goes_on(bridge: Bridge) -> None:
    async with mcp_session(bridge.url, bridge.headers) as session:
        with anyio.fail_after(CALL_LIMIT_SECS):
            failed = await session.call_tool("no_such_tool", {})
            with pytest.raises(MCPError):
                await session.read_resource("test://no-such-resource")
        assert failed.is_error
        assert await call_text(session, "echo", text="still here") == "still here"


def test_every_request_but_health_needs_the_key(bridge: Bridge) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    accept = {"Accept": "application/json, text/event-stream"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": bridge.key}):
        reply = httpx.post(bridge.url, json=body, headers={**accept, **headers}, timeout=5)
        assert reply.status_code == 401
    assert httpx.get(bridge.base + "/anything", timeout=5).status_code == 401
    assert httpx.get(bridge.base + "/health", timeout=5).status_code == 200


async def test_two_client_sessions_share_the_one_stdio_server(bridge: Bridge) -> None:
    async with mcp_session(bridge.url, bridge.headers) as first, \
            mcp_session(bridge.url, bridge.headers) as second:
        replies: dict[str, str] = {}

        async def ask(name: str, session: object) -> None:
            replies[name] = await call_text(session, "count", n=10)  # type: ignore[arg-type]
            replies[name + "-pid"] = await call_text(session, "whoami")  # type: ignore[arg-type]

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, "first", first)
            tg.start_soon(ask, "second", second)
    assert replies["first"] == replies["second"] == "counted to 10"
    assert replies["first-pid"] == replies["second-pid"]
    assert [int(replies["first-pid"])] == bridge.stdio_pids()


def test_stdio_stderr_lands_in_the_log(bridge: Bridge) -> None:
    assert "tools server on stdio" in bridge.log.read_text()


def test_secrets_stay_off_command_lines_and_out_of_the_log(bridge: Bridge) -> None:
    pids = [bridge.proc.pid, *bridge.stdio_pids()]
    assert len(pids) == 2
    for pid in pids:
        cmdline = " ".join(psutil.Process(pid).cmdline())
        assert bridge.key not in cmdline and SECRET not in cmdline
    # The stdio server gets its spec's env, but not the bridge's key or spec.
    stdio_env = psutil.Process(pids[1]).environ()
    assert stdio_env["TOOLS_API_KEY"] == SECRET
    assert KEY_ENV not in stdio_env and SPEC_ENV not in stdio_env
    log = bridge.log.read_text()
    assert bridge.key not in log and SECRET not in log


async def test_the_bridge_exits_nonzero_when_the_stdio_server_dies(bridge: Bridge) -> None:
    async with mcp_session(bridge.url, bridge.headers) as session:
        with anyio.fail_after(CALL_LIMIT_SECS), pytest.raises(MCPError):
            await session.call_tool("crash", {})
    assert await anyio.to_thread.run_sync(bridge.proc.wait, 10) == 1
    assert "exited" in bridge.log.read_text()


def test_sigterm_stops_the_stdio_server_too(bridge: Bridge) -> None:
    stdio = bridge.stdio_pids()
    assert stdio
    bridge.proc.send_signal(signal.SIGTERM)
    assert bridge.proc.wait(10) == 0
    assert alive(stdio) == []


# A server that outlives the end of its stdin: the shell waits for the Python server to see
# EOF, then becomes `sleep`. Only the exec guard's parent-death signal ends it with the bridge.
STUBBORN = replace(TOOLS, command="sh", args=(
    "-c", f"{sys.executable} -m tests.mcp_servers.tools --stdio; exec sleep 60"))


def test_sigkill_of_the_bridge_takes_the_stdio_server_with_it(tmp_path: Path) -> None:
    with running_bridge(tmp_path, STUBBORN) as started:
        stdio = started.stdio_pids()
        assert len(stdio) == 2       # sh and the Python server it runs
        started.proc.kill()
        started.proc.wait(5)
        assert wait_until(lambda: not alive(stdio), 5.0), "the stdio server outlived its bridge"


def test_a_command_that_cannot_run_ends_the_bridge(tmp_path: Path) -> None:
    missing = replace(TOOLS, command="/nonexistent/mcp-server", args=())
    with running_bridge(tmp_path, missing, wait=False) as started:
        assert started.proc.wait(START_LIMIT_SECS) == 1
        log = started.log.read_text()
    assert "cannot run /nonexistent/mcp-server" in log
    assert "ended before it was ready" in log
