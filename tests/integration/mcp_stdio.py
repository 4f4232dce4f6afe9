"""Helpers for the MCP stdio tests: the test server's spec, an SDK client session on an
endpoint, and the processes a bridge leaves (or must not leave) behind."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import anyio
import httpx2
import psutil
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from companion.mcp.stdio_spec import StdioSpec

ROOT = Path(__file__).parents[2]
SECRET = "s3cret-env-value"
# The test server of tests/mcp_servers/tools.py over stdio; cwd makes `tests` importable.
TOOLS = StdioSpec(sys.executable, ("-m", "tests.mcp_servers.tools", "--stdio"),
                  env={"TOOLS_API_KEY": SECRET}, cwd=str(ROOT))
CALL_LIMIT_SECS = 20


@contextlib.asynccontextmanager
async def mcp_session(url: str, headers: Mapping[str, str],
                      on_response: Callable[[httpx2.Response], Awaitable[None]] | None = None
                      ) -> AsyncIterator[ClientSession]:
    """An initialised SDK client session over Streamable HTTP (``on_response`` sees every
    HTTP reply the SDK's client gets)."""
    client = create_mcp_http_client(headers=dict(headers),
                                    timeout=httpx2.Timeout(CALL_LIMIT_SECS))
    if on_response is not None:
        client.event_hooks["response"].append(on_response)
    async with client, streamable_http_client(url, http_client=client) as (read, write), \
            ClientSession(read, write) as session:
        with anyio.fail_after(CALL_LIMIT_SECS):
            await session.initialize()
        yield session


async def call_text(session: ClientSession, tool: str, **arguments: object) -> str:
    with anyio.fail_after(CALL_LIMIT_SECS):
        result = await session.call_tool(tool, dict(arguments))
    assert not result.is_error, result
    text = result.content[0]
    assert text.type == "text"
    return text.text


def descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_all(pids: list[int]) -> None:
    """Last-resort cleanup of processes a failing test may have left."""
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()
