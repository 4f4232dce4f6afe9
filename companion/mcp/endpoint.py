"""``McpEndpoint``: where an MCP server answers Streamable HTTP, and what to send with it.

A remote server's endpoint is its URL plus its credential headers; a local stdio server's is
its bridge's loopback URL plus the bridge's key (``mcp/stdio_process.py``). The proxy forwards
to either the same way, so this module imports nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class McpEndpoint:
    url: str
    # Secrets: never logged or shown in repr.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
