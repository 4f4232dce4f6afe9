"""A small MCP server with tools, a resource and a prompt.

    python -m tests.mcp_servers.tools --port P                 Streamable HTTP at /mcp, public
    python -m tests.mcp_servers.tools --port P --header-key X-Api-Key=secret
    python -m tests.mcp_servers.tools --port P --query-key api_key=secret
    python -m tests.mcp_servers.tools --stdio                  the same server over stdio

With a key, every request without it gets 401 (as a real API-key-protected server would).
``crash`` exits the process at once, for supervision tests.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer

server = MCPServer("bodhi-test-tools", instructions="Tools for the companion's tests.")


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def count(n: int) -> str:
    """Count to n slowly (a reply that takes a moment)."""
    for _ in range(n):
        await anyio.sleep(0.05)
    return f"counted to {n}"


@server.tool()
def whoami() -> str:
    """The server's process id (tests tell a restarted server from the first one)."""
    return str(os.getpid())


@server.tool()
def crash() -> str:
    """Exit the server process at once."""
    os._exit(3)


@server.resource("test://greeting")
def greeting() -> str:
    """A fixed text resource."""
    return "hello from the test server"


@server.prompt()
def review(code: str) -> str:
    """Ask for a review of some code."""
    return f"Please review this code:\n{code}"


def _keyed(app: Any, where: str, name: str, value: str) -> Any:
    """Refuse requests without the key (a header or a query parameter)."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if where == "header":
                got = dict(scope["headers"]).get(name.lower().encode(), b"").decode()
            else:
                from urllib.parse import parse_qs
                got = parse_qs(scope.get("query_string", b"").decode()).get(name, [""])[0]
            if got != value:
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": b'{"error":"bad key"}'})
                return
        await app(scope, receive, send)

    return guarded


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int)
    p.add_argument("--stdio", action="store_true")
    p.add_argument("--header-key")
    p.add_argument("--query-key")
    args = p.parse_args()
    if args.stdio:
        print("tools server on stdio", file=sys.stderr, flush=True)
        server.run("stdio")
        return
    import uvicorn
    app: Any = server.streamable_http_app()
    for where, spec in (("header", args.header_key), ("query", args.query_key)):
        if spec:
            name, _, value = spec.partition("=")
            app = _keyed(app, where, name, value)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
