"""The MCP stdio bridge: one local stdio MCP server, served as Streamable HTTP on loopback.

    python -m companion.mcp.stdio_bridge --port P --log FILE

A child process of the companion (``mcp/stdio_process.py`` starts and supervises it), so
that a stdio server looks to the MCP proxy like any remote one. It reads the server's spec
(``{"command", "args", "env", "cwd"}``) from ``_BODHI_MCP_STDIO_SPEC`` and its key from
``_BODHI_MCP_BRIDGE_KEY``: both may hold secrets, so neither goes on the command line (which
every local user can read) nor into the log. The stdio server's stderr is appended to FILE,
where the supervisor also sends the bridge's own output.

The bridge keeps one MCP client session to the stdio server (the SDK's ``stdio_client``), and
every HTTP MCP session is served by a low-level SDK server whose handlers forward to it, so
many HTTP clients share the one stdio server. It advertises only what the stdio server
advertised (tools, resources, prompts, completions), under its name and instructions.
Notifications from the stdio server (list changes, progress, logs) and its requests to the
client (sampling, elicitation, roots) are not relayed: they belong to one client, and the
bridge has many.

``/mcp`` wants ``Authorization: Bearer <key>`` (401 otherwise); ``GET /health`` is keyless and
answers 200 once the stdio session is initialised (the listener opens only then). The bridge
binds 127.0.0.1 alone. It exits 1 when the stdio server goes away, so the supervisor sees the
crash, 0 on SIGTERM/SIGINT after stopping the stdio server, and it dies with its parent. The
stdio server runs through ``companion.core.exec_guard``, so it in turn dies with the bridge,
even a bridge killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import anyio
import uvicorn
from mcp import ClientSession, MCPError
from mcp import types as mt
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.lowlevel import Server
from mcp.shared._stream_protocols import ReadStream
from mcp.shared.message import SessionMessage
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from companion.core.child_process import CHILD_HOST
from companion.core.home import private_opener
from companion.core.parent_watch import PARENT_PID_ENV, die_with_parent, start_parent_poll
from companion.core.self_command import module_command, sharing_env
from companion.mcp.stdio_spec import KEY_ENV, SPEC_ENV, StdioSpec

HEALTH_PATH = "/health"
MCP_PATH = "/mcp"
# Long-lived SSE streams would hold uvicorn's graceful shutdown open; clients reconnect.
_SHUTDOWN_GRACE_SECS = 1
# `_meta` keys that belong to the HTTP client's own session, not to the stdio one.
_SESSION_META_PREFIXES = ("io.modelcontextprotocol/", "progressToken")

log = logging.getLogger("companion.mcp.stdio_bridge")

Handler = Callable[[Any, Any], Awaitable[BaseModel]]


class _EndWatch:
    """The stdio session's read stream, noting when it ends: the server exited."""

    def __init__(self, stream: ReadStream[SessionMessage | Exception], ended: anyio.Event) -> None:
        self._stream = stream
        self._ended = ended

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self._stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._ended.set()
            raise

    async def aclose(self) -> None:
        await self._stream.aclose()

    def __aiter__(self) -> _EndWatch:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _EndWatch:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_val: BaseException | None, exc_tb: TracebackType | None) -> None:
        await self.aclose()


def _own_params(params: BaseModel | None) -> BaseModel | None:
    """The HTTP client's params without the `_meta` keys of its own session."""
    meta = getattr(params, "meta", None)
    if params is None or not meta:
        return params
    kept = {k: v for k, v in meta.items() if not k.startswith(_SESSION_META_PREFIXES)}
    return params.model_copy(update={"meta": kept or None})


def _forward(session: ClientSession, request: type[BaseModel], result: type[BaseModel]
             ) -> Handler:
    """A server handler that sends the same request to the stdio server.

    Its errors (``MCPError``) reach the HTTP client as the same JSON-RPC error; a tool that
    fails comes back as a result with ``isError``, untouched.
    """

    async def handler(ctx: Any, params: Any) -> BaseModel:
        outgoing: Any = request(params=_own_params(params))
        return await session.send_request(outgoing, result)

    return handler


def _handlers(session: ClientSession, caps: mt.ServerCapabilities) -> dict[str, Handler]:
    wanted: list[tuple[object, str, type[BaseModel], type[BaseModel]]] = [
        (caps.tools, "on_list_tools", mt.ListToolsRequest, mt.ListToolsResult),
        (caps.tools, "on_call_tool", mt.CallToolRequest, mt.CallToolResult),
        (caps.resources, "on_list_resources", mt.ListResourcesRequest, mt.ListResourcesResult),
        (caps.resources, "on_list_resource_templates", mt.ListResourceTemplatesRequest,
         mt.ListResourceTemplatesResult),
        (caps.resources, "on_read_resource", mt.ReadResourceRequest, mt.ReadResourceResult),
        (caps.prompts, "on_list_prompts", mt.ListPromptsRequest, mt.ListPromptsResult),
        (caps.prompts, "on_get_prompt", mt.GetPromptRequest, mt.GetPromptResult),
        (caps.completions, "on_completion", mt.CompleteRequest, mt.CompleteResult),
    ]
    return {name: _forward(session, request, result)
            for advertised, name, request, result in wanted if advertised is not None}


def forwarding_server(session: ClientSession, init: mt.InitializeResult) -> Server[Any]:
    """An SDK server that answers as the stdio server would, by asking it."""
    info = init.server_info
    handlers: dict[str, Any] = _handlers(session, init.capabilities)
    return Server(info.name, version=info.version, title=info.title,
                  instructions=init.instructions, **handlers)


def _require_key(app: ASGIApp, key: str) -> ASGIApp:
    """Refuse every HTTP request but the health check without ``Authorization: Bearer key``."""
    expected = f"Bearer {key}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != HEALTH_PATH:
            got = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(got, expected):
                refusal = JSONResponse({"error": "a valid bridge key is required"},
                                       status_code=401, headers={"WWW-Authenticate": "Bearer"})
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def _refuse_once_ended(app: ASGIApp, ended: anyio.Event) -> ASGIApp:
    """503 once the stdio server is gone: until the bridge has exited, it would still answer
    ``initialize`` itself and fail every call with "Connection closed"; the proxy takes the
    503 as its cue to wait for the exit and start a new bridge."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ended.is_set():
            await JSONResponse({"error": "the stdio server exited"},
                               status_code=503)(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def bridge_app(server: Server[Any], key: str, ended: anyio.Event | None = None) -> ASGIApp:
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, host=CHILD_HOST,
        custom_starlette_routes=[Route(HEALTH_PATH, _health, methods=["GET"])])
    guarded = _require_key(app, key)
    return guarded if ended is None else _refuse_once_ended(guarded, ended)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling.

    uvicorn re-raises a caught SIGTERM once it has shut down, which would end the bridge
    before the stdio server is stopped; the bridge handles the signals itself.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listener(app: ASGIApp, port: int) -> _Uvicorn:
    return _Uvicorn(uvicorn.Config(
        app, host=CHILD_HOST, port=port, log_level="warning", access_log=False,
        lifespan="on", timeout_graceful_shutdown=_SHUTDOWN_GRACE_SECS))


def stdio_parameters(spec: StdioSpec) -> StdioServerParameters:
    """Run the server through the exec guard, so that it dies with the bridge.

    The SDK starts it with a minimal environment plus ``env``; from the one-file binary that
    includes what lets the guard reuse the binary's unpacked files."""
    guard, *guard_args = module_command("companion.core.exec_guard")
    return StdioServerParameters(
        command=guard, args=[*guard_args, spec.command, *spec.args],
        env={**sharing_env(os.environ), **spec.env, PARENT_PID_ENV: str(os.getpid())},
        cwd=spec.cwd)


async def _serve_stdio(params: StdioServerParameters, key: str, port: int, errlog: TextIO,
                       listening: list[_Uvicorn]) -> int:
    ended = anyio.Event()
    async with stdio_client(params, errlog=errlog) as (read, write), \
            ClientSession(_EndWatch(read, ended), write) as session:
        try:
            init = await session.initialize()
        except MCPError as exc:
            log.error("the stdio server ended before it was ready: %s", exc.message)
            return 1
        name = init.server_info.name
        log.info("stdio server %r ready; serving it on port %s", name, port)
        server = _listener(bridge_app(forwarding_server(session, init), key, ended), port)
        listening.append(server)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_when_set, ended, server)
            await server.serve()
            tg.cancel_scope.cancel()
    if ended.is_set():
        log.error("the stdio server %r exited", name)
        return 1
    return 0


async def _stop_when_set(ended: anyio.Event, server: _Uvicorn) -> None:
    await ended.wait()
    server.should_exit = True


async def _stop_on_signals(listening: list[_Uvicorn], scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            if listening:
                listening[0].should_exit = True   # a graceful stop: uvicorn, then stdio
            else:
                scope.cancel()                     # still starting: stdio_client cleans up


async def run_bridge(params: StdioServerParameters, key: str, port: int, errlog: TextIO) -> int:
    """Serve until a signal (0) or until the stdio server goes away (1)."""
    listening: list[_Uvicorn] = []
    code = 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signals, listening, tg.cancel_scope)
        try:
            code = await _serve_stdio(params, key, port, errlog, listening)
        except OSError as exc:   # the stdio server could not be spawned (a bad cwd)
            log.error("cannot start the stdio server: %s", exc)
            code = 1
        finally:
            tg.cancel_scope.cancel()
    return code


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m companion.mcp.stdio_bridge")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    start_parent_poll()
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    # Read once and dropped, so nothing this process starts inherits them by accident.
    spec, key = os.environ.pop(SPEC_ENV, ""), os.environ.pop(KEY_ENV, "")
    if not spec or not key:
        log.error("%s and %s must be set", SPEC_ENV, KEY_ENV)
        return 2
    params = stdio_parameters(StdioSpec.from_json(spec))
    with open(args.log, "a", encoding="utf-8", opener=private_opener) as errlog:
        return anyio.run(run_bridge, params, key, args.port, errlog)


if __name__ == "__main__":
    sys.exit(main())
