"""What consent needs to know about MCP: the servers an app asks for (``{"url": ...}`` or
``{"name": ...}``) and the user's instances bound to them. ``McpInstanceService`` answers;
the access layer only sees this protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from companion.core.errors import BadRequestError

McpAsk = Mapping[str, str]
MAX_MCP_ASKS = 10


class McpBinding(Protocol):
    async def check_binding(self, user_id: str, asks: Sequence[McpAsk],
                            instance_ids: Sequence[str]) -> None: ...

    async def covers(self, user_id: str, asks: Sequence[McpAsk],
                     instance_ids: Sequence[str]) -> bool: ...

    async def describe(self, user_id: str, ids: tuple[str, ...]) -> list[dict[str, Any]]: ...


def check_asks(asks: Sequence[Any], scopes: frozenset[str]) -> tuple[dict[str, str], ...]:
    """``[{"url": ...} | {"name": ...}]``, at most ten, and only with the ``mcp`` scope."""
    if not asks:
        return ()
    if "mcp" not in scopes:
        raise BadRequestError("Ask for the 'mcp' scope to ask for MCP servers.",
                              code="invalid_scope", param="requested.scopes")
    if len(asks) > MAX_MCP_ASKS:
        raise BadRequestError(f"Ask for at most {MAX_MCP_ASKS} MCP servers.",
                              code="invalid_mcp_request", param="requested.mcps")
    checked = []
    for ask in asks:
        if not isinstance(ask, Mapping) or len(ask) != 1 or not (
                isinstance(ask.get("url"), str) or isinstance(ask.get("name"), str)):
            raise BadRequestError("Each MCP server asked for is {\"url\": ...} or "
                                  "{\"name\": ...}.", code="invalid_mcp_request",
                                  param="requested.mcps")
        key, value = next(iter(ask.items()))
        if not 0 < len(value) <= 2000:
            raise BadRequestError("An MCP server's url or name is 1 to 2000 characters.",
                                  code="invalid_mcp_request", param="requested.mcps")
        checked.append({key: value})
    return tuple(checked)
