"""A small dictionary MCP server whose answers no model could guess, and which writes down
every tool call it runs (tests check that a call really reached it).

    python -m tests.mcp_servers.words --port P --log FILE      Streamable HTTP at /mcp

Each call appends one JSON line {"tool": ..., "arguments": {...}} to FILE.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

server = MCPServer("bodhi-test-words", instructions="A dictionary for the companion's tests.")
LOG: list[Path] = []
# The entry's mark: a string the model cannot make up, so a test that finds it in the next
# request knows it came from this server.
MARK = "ZQX-7731"


def _noted(tool: str, arguments: dict[str, Any]) -> None:
    for path in LOG:
        with path.open("a") as out:
            out.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")


@server.tool()
def lookup_word(word: str) -> str:
    """Look up a word in the dictionary."""
    _noted("lookup_word", {"word": word})
    return f"{word}: dictionary entry {MARK} (a word of the test dictionary)"


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    _noted("add", {"a": a, "b": b})
    return a + b


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", type=Path, required=True)
    args = p.parse_args()
    LOG.append(args.log)
    import uvicorn
    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
