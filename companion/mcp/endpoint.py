"""Where an MCP server answers: a Streamable HTTP URL and the headers it needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class McpEndpoint:
    url: str
    headers: Mapping[str, str]
