"""A minimal aiohttp proxy, the floor ``gateway_overhead.py`` measures the companion against.

No auth, no checks, no metrics: every POST goes to the same path on ``--upstream`` with
aiohttp's client (one keep-alive session, as the companion has), and the reply is streamed back
chunk by chunk as it arrives. ``GET /ping`` answers for readiness.

Run: ``.venv/bin/python bench/bare_proxy.py --port 8080 --upstream http://127.0.0.1:8081``
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web


def make_app(upstream: str) -> web.Application:
    app = web.Application()
    session_key = web.AppKey("session", aiohttp.ClientSession)

    async def session(app: web.Application):  # type: ignore[no-untyped-def]
        app[session_key] = aiohttp.ClientSession(auto_decompress=False)
        yield
        await app[session_key].close()

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"Content-Type": "application/json"}
        if request.headers.get("Connection", "").lower() == "close":
            # llama.cpp closes after a stream while announcing keep-alive: like the companion,
            # do not put that connection back in the pool.
            headers["Connection"] = "close"
        async with app[session_key].post(upstream + request.path, data=body,
                                         headers=headers) as reply:
            response = web.StreamResponse(status=reply.status, headers={
                "Content-Type": reply.headers.get("Content-Type", "application/json")})
            await response.prepare(request)
            async for chunk in reply.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app.cleanup_ctx.append(session)
    app.router.add_get("/ping", ping)
    app.router.add_post("/{path:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    web.run_app(make_app(args.upstream), host="127.0.0.1", port=args.port, access_log=None,
                print=None)


if __name__ == "__main__":
    main()
