"""The built-in web UI at ``/ui/``: static files from ``companion/web/`` (package data, nothing
built at install time), served with a strict Content-Security-Policy.

* ``/ui/<file>`` is the file when one exists under ``web/``; ``/ui/<page>`` (no extension) is
  ``index.html``, so the UI's history routing works on a reload or a bookmark.
* A folder with an ``index.html`` of its own is a page apart from the UI: ``/ui/demo/`` is
  ``web/demo/index.html`` (``/ui/demo`` redirects there, so its relative links work).
* ``index.html`` is never cached; every other file carries an ETag (its content's digest) and
  is revalidated, so a new companion version is picked up at once and costs a 304 otherwise.
* The files are public: they hold no data. Everything the UI shows comes from the API, with the
  same session cookie and CSRF rules as any other caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aiohttp import web

from companion.core.errors import NotFoundError
from companion.middleware.access import public
from companion.middleware.docs import documented

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
UI_PREFIX = "/ui/"
INDEX = "index.html"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Cross-Origin-Opener-Policy": "same-origin"}
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
                 ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml",
                 ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain",
                 ".ts": "text/plain"}              # the SDK's .d.ts types, to read or save


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


class WebFiles:
    """The UI's files, listed at start; each is read on its first request and then kept in
    memory. Together they are a few MB (most of it Swagger UI's), which a start should not
    read, hash and hold for a UI that may never be opened."""

    def __init__(self, root: Path) -> None:
        self._paths: dict[str, Path] = {}
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if path.suffix in CONTENT_TYPES:  # never serve what we do not know how to label
                self._paths[path.relative_to(root).as_posix()] = path
        self._read: dict[str, StaticFile] = {}

    def has(self, name: str) -> bool:
        return name in self._paths

    def get(self, name: str) -> StaticFile | None:
        found = self._read.get(name)
        path = self._paths.get(name)
        if found is None and path is not None:
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:32]
            found = self._read[name] = StaticFile(body, CONTENT_TYPES[path.suffix],
                                                  f'"{digest}"')
        return found

    def find(self, tail: str) -> StaticFile | None:
        """The file for ``/ui/<tail>``; ``index.html`` for a page route; None for a missing
        file."""
        name = tail.strip("/")
        found = self.get(name) or self.get(f"{name}/{INDEX}")
        if found is not None:
            return found
        if not name or "." not in PurePosixPath(name).name:
            return self.get(INDEX)
        return None


WEB_FILES = web.AppKey("web_files", WebFiles)


def _respond(request: web.Request, found: StaticFile, is_index: bool) -> web.Response:
    headers = dict(SECURITY_HEADERS)
    if is_index:
        headers["Cache-Control"] = "no-store"
    else:
        headers["Cache-Control"] = "no-cache"
        headers["ETag"] = found.etag
        if request.headers.get("If-None-Match") == found.etag:
            return web.Response(status=304, headers=headers)
    charset = "utf-8" if found.content_type.startswith(("text/", "application/json")) else None
    return web.Response(body=found.body, content_type=found.content_type, charset=charset,
                        headers=headers)


@public
@documented("A file of the web UI, or its page for a UI route (index.html); a folder with a "
            "page of its own redirects to its name with a slash", media="*/*",
            response={"type": "string"}, also=(304, 308))
async def ui_file(request: web.Request) -> web.Response:
    files = request.app[WEB_FILES]
    tail = request.match_info["tail"]
    found = files.find(tail)
    if found is None:
        raise NotFoundError("No such file in the web UI.", code="not_found")
    if tail and not tail.endswith("/") and files.has(f"{tail}/{INDEX}"):
        raise web.HTTPPermanentRedirect(f"{UI_PREFIX}{tail}/")
    return _respond(request, found, found is files.get(INDEX))


@public
@documented("The web UI: a redirect to /ui/", media=None, status=308)
async def ui_root(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect(UI_PREFIX)


def setup(app: web.Application) -> None:
    app[WEB_FILES] = WebFiles(WEB_ROOT)
    app.router.add_get("/ui", ui_root)
    app.router.add_get(UI_PREFIX + "{tail:.*}", ui_file)
