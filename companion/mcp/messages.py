"""What the proxy reads in the JSON-RPC it relays: which tool a call names, and the tool list
it filters. Parsing uses the MCP SDK's message types; anything they do not recognise goes to
the server unchanged, so the server answers malformed JSON-RPC itself."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from companion.core import json_limits
from companion.core.errors import BadRequestError

if TYPE_CHECKING:
    import mcp_types  # the SDK's types take a good part of a second: loaded on first use

# JSON-RPC "invalid params": the call names a tool this instance does not allow.
TOOL_NOT_ALLOWED = -32602


@dataclass(frozen=True)
class Inspected:
    """A POST body: the tools/list ids whose replies to filter, and any refused tool call."""

    list_ids: frozenset[str | int]
    refused: dict[str, Any] | None = None


def parse_body(body: bytes) -> Any:
    try:
        return json_limits.loads(body)
    except ValueError as exc:
        raise BadRequestError(f"An MCP message must be JSON: {exc}.",
                              code="invalid_mcp_message") from None


def inspect(message: Any, allowed: frozenset[str] | None) -> Inspected:
    """Which requests in ``message`` are tools/list, and the error for a refused tools/call."""
    batch = message if isinstance(message, list) else [message]
    list_ids: set[str | int] = set()
    for item in batch:
        request = _request(item)
        if request is None:
            continue
        if request.method == "tools/list":
            list_ids.add(request.id)
        elif request.method == "tools/call" and allowed is not None:
            name = _tool_name(item)
            if name is not None and name not in allowed:
                return Inspected(frozenset(), _refusal(request.id, name))
    return Inspected(frozenset(list_ids))


def _request(item: Any) -> mcp_types.JSONRPCRequest | None:
    import mcp_types

    try:
        return mcp_types.JSONRPCRequest.model_validate(item)
    except ValidationError:
        return None


def _tool_name(item: dict[str, Any]) -> str | None:
    import mcp_types

    try:
        call = mcp_types.CallToolRequest.model_validate(
            {"method": item["method"], "params": item.get("params")})
    except (ValidationError, KeyError):
        return None
    return call.params.name


def _refusal(request_id: str | int, tool: str) -> dict[str, Any]:
    import mcp_types

    error = mcp_types.JSONRPCError(
        jsonrpc="2.0", id=request_id,
        error=mcp_types.ErrorData(code=TOOL_NOT_ALLOWED,
                                  message=f"The tool '{tool}' is not allowed on this "
                                          "connection."))
    dumped: dict[str, Any] = error.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def filter_tools(message: Any, list_ids: frozenset[str | int],
                 allowed: frozenset[str]) -> Any:
    """``message`` with the tools outside ``allowed`` removed from tools/list results."""
    if isinstance(message, list):
        return [filter_tools(m, list_ids, allowed) for m in message]
    if not isinstance(message, dict) or message.get("id") not in list_ids:
        return message
    result = message.get("result")
    if isinstance(result, dict) and isinstance(result.get("tools"), list):
        tools = [t for t in result["tools"]
                 if isinstance(t, dict) and t.get("name") in allowed]
        return {**message, "result": {**result, "tools": tools}}
    return message


class SseRewriter:
    """Rewrites the ``data:`` of each server-sent event as it passes; other lines unchanged."""

    def __init__(self, rewrite: Any) -> None:
        self._rewrite = rewrite
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> bytes:
        self._pending += chunk
        out: list[bytes] = []
        while b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            out.append(self._line(line.rstrip(b"\r")))
        return b"".join(out)

    def flush(self) -> bytes:
        rest, self._pending = self._pending, b""
        return self._line(rest) + self._end_event() if rest else self._end_event()

    def _line(self, line: bytes) -> bytes:
        if line.startswith(b"data:"):
            self._data.append(line[5:].removeprefix(b" "))
            return b""
        if line == b"":
            return self._end_event() + b"\n"
        return line + b"\n"

    def _end_event(self) -> bytes:
        if not self._data:
            return b""
        data, self._data = b"\n".join(self._data), []
        try:
            text = json.dumps(self._rewrite(json.loads(data)), separators=(",", ":"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return b"".join(b"data: " + part + b"\n" for part in data.split(b"\n"))
        return b"data: " + text.encode() + b"\n"
