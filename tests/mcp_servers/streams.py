"""An upstream whose event streams misbehave, for the proxy's stream edges (not a whole MCP
server: only the Streamable HTTP framing of one long reply).

    python -m tests.mcp_servers.streams --port P --record FILE

``POST /endless``: one JSON-RPC progress event, then a comment every 0.1 s until the client
goes away, which it writes to FILE. ``POST /broken``: one event, then the connection is cut in
the middle of the reply.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from aiohttp import web

SSE = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def _event(request_id: object) -> bytes:
    note = {"jsonrpc": "2.0", "method": "notifications/progress",
            "params": {"progressToken": request_id, "progress": 1}}
    return b"event: message\ndata: " + json.dumps(note).encode() + b"\n\n"


def build(record: Path) -> web.Application:
    async def endless(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers=SSE)
        await response.prepare(request)
        await response.write(_event(body.get("id")))
        try:
            for _ in range(600):
                await asyncio.sleep(0.1)
                await response.write(b": still working\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            record.write_text("disconnected")  # noqa: ASYNC240 (a few bytes, while cancelled)
            raise
        return response

    async def broken(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers=SSE)
        await response.prepare(request)
        await response.write(_event(body.get("id")))
        await asyncio.sleep(0.2)
        assert request.transport is not None
        request.transport.close()  # cut mid-reply: no end of the chunked body
        return response

    app = web.Application()
    app.router.add_post("/endless", endless)
    app.router.add_post("/broken", broken)
    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--record", type=Path, required=True)
    args = p.parse_args()
    web.run_app(build(args.record), host="127.0.0.1", port=args.port, print=None,
                handler_cancellation=True)


if __name__ == "__main__":
    main()
