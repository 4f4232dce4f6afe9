"""A small Hugging Face hub for tests: real files over the hub's HTTP download protocol.

Serves ``HEAD``/``GET /{owner}/{name}/resolve/{revision}/{filename}`` with ``X-Repo-Commit``,
``ETag`` and ``Range`` support (206 for resumed transfers), ``/api/models/{owner}/{name}``,
and the hub's ``X-Error-Code`` on 404s so ``huggingface_hub`` raises its usual errors. It runs
on its own event loop in a thread, so blocking clients and subprocesses can use it. It counts
the bytes it sends per file and can be throttled to keep a download in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from pathlib import Path

from aiohttp import web

from tests.loopback_app import LoopbackApp

CHUNK = 64 * 1024


class HubServer(LoopbackApp):
    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, dict[str, Path]] = {}
        self.gated: dict[str, str] = {}          # repo -> the token it needs
        self.bytes_per_s: int | None = None      # None: as fast as possible
        self.bytes_served: dict[str, int] = defaultdict(int)
        self.range_starts: dict[str, list[int]] = defaultdict(list)

    def add(self, repo: str, filename: str, path: Path) -> None:
        self.repos.setdefault(repo, {})[filename] = path

    @staticmethod
    def commit(repo: str) -> str:
        return hashlib.sha1(repo.encode()).hexdigest()

    @staticmethod
    def etag(path: Path) -> str:
        return hashlib.sha256(f"{path}:{path.stat().st_size}".encode()).hexdigest()

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{owner}/{name}/resolve/{rev}/{file:.+}", self._resolve)
        app.router.add_get("/api/models/{owner}/{name}", self._model_info)
        app.router.add_get("/api/models/{owner}/{name}/revision/{rev}", self._model_info)
        return app

    def _refusal(self, request: web.Request, repo: str) -> web.Response | None:
        if repo not in self.repos:
            return web.Response(status=404, headers={"X-Error-Code": "RepoNotFound",
                                                     "X-Error-Message": "Repository not found"})
        needed = self.gated.get(repo)
        if needed and request.headers.get("Authorization") != f"Bearer {needed}":
            return web.Response(status=401, headers={"X-Error-Code": "GatedRepo",
                                                     "X-Error-Message": "Access restricted"})
        return None

    async def _model_info(self, request: web.Request) -> web.Response:
        repo = f"{request.match_info['owner']}/{request.match_info['name']}"
        refusal = self._refusal(request, repo)
        if refusal is not None:
            return refusal
        return web.json_response({"id": repo, "modelId": repo, "sha": self.commit(repo),
                                  "siblings": [{"rfilename": f} for f in self.repos[repo]]})

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        repo = f"{request.match_info['owner']}/{request.match_info['name']}"
        refusal = self._refusal(request, repo)
        if refusal is not None:
            return refusal
        path = self.repos[repo].get(request.match_info["file"])
        if path is None:
            return web.Response(status=404, headers={"X-Error-Code": "EntryNotFound",
                                                     "X-Error-Message": "Entry not found"})
        size = path.stat().st_size
        start = _range_start(request.headers.get("Range"))
        headers = {"X-Repo-Commit": self.commit(repo), "ETag": f'"{self.etag(path)}"',
                   "Accept-Ranges": "bytes", "Content-Length": str(size - start)}
        if request.method == "HEAD":
            headers["Content-Length"] = str(size)
            return web.Response(status=200, headers=headers)
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
            self.range_starts[f"{repo}/{request.match_info['file']}"].append(start)
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        await self._send(response, path, start, f"{repo}/{request.match_info['file']}")
        return response

    async def _send(self, response: web.StreamResponse, path: Path, start: int, key: str) -> None:
        with path.open("rb") as file:
            file.seek(start)
            while chunk := file.read(CHUNK):
                await response.write(chunk)
                self.bytes_served[key] += len(chunk)
                if self.bytes_per_s:
                    await asyncio.sleep(len(chunk) / self.bytes_per_s)
        await response.write_eof()


def _range_start(header: str | None) -> int:
    if not header or not header.startswith("bytes="):
        return 0
    first = header.removeprefix("bytes=").split(",")[0]
    return int(first.split("-")[0] or 0)
