"""``StdioSpec``: how to run a local stdio MCP server, and how the supervisor hands it on.

The supervisor (``mcp/stdio_process.py``) and the bridge (``mcp/stdio_bridge.py``, a process
of its own) both import this module and nothing heavier from each other: the spec travels to
the bridge as JSON in ``SPEC_ENV`` and the bridge's key in ``KEY_ENV``, in its environment,
because ``env`` values and the key are secrets and a command line is readable by every local
user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The leading underscore marks them as internal, not BODHI_* settings (as _BODHI_PARENT_PID).
SPEC_ENV = "_BODHI_MCP_STDIO_SPEC"
KEY_ENV = "_BODHI_MCP_BRIDGE_KEY"


@dataclass(frozen=True)
class StdioSpec:
    command: str
    args: tuple[str, ...] = ()
    # Often API keys: never logged, never in repr or error messages.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None

    def __post_init__(self) -> None:
        # Compared on every lease to notice an edit: a list or a dict view must not count.
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "env", dict(self.env))

    def to_json(self) -> str:
        return json.dumps({"command": self.command, "args": list(self.args),
                           "env": dict(self.env), "cwd": self.cwd})

    @classmethod
    def from_json(cls, text: str) -> StdioSpec:
        raw: dict[str, Any] = json.loads(text)
        return cls(command=str(raw["command"]),
                   args=tuple(str(arg) for arg in raw.get("args") or ()),
                   env={str(k): str(v) for k, v in (raw.get("env") or {}).items()},
                   cwd=raw.get("cwd") or None)
