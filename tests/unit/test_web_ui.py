"""The web UI's static route (tier a: a tiny app with the route and the error middleware) and
its vendored files: served as they are in the tree, under a strict
CSP, with the manifest that says where each vendored file came from."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.middleware.errors import error_middleware
from companion.routes import web_ui

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "companion" / "web"
MANIFEST = WEB / "vendor" / "MANIFEST.json"


@pytest.fixture
async def client(aiohttp_client: object) -> TestClient:
    app = web.Application(middlewares=[error_middleware()])
    web_ui.setup(app)
    return await aiohttp_client(app)  # type: ignore[operator, no-any-return]


async def test_every_page_route_is_the_index_and_never_cached(client: TestClient) -> None:
    for path in ("/ui/", "/ui/chat", "/ui/chat/3f2a-9c", "/ui/sign-in"):
        reply = await client.get(path)
        assert reply.status == 200, path
        assert reply.headers["Cache-Control"] == "no-store"
        assert '<div id="app">' in await reply.text()


async def test_the_ui_is_served_under_a_strict_csp(client: TestClient) -> None:
    for path in ("/ui/", "/ui/js/main.js"):
        reply = await client.get(path)
        csp = reply.headers["Content-Security-Policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "unsafe" not in csp and "frame-ancestors 'none'" in csp
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"


async def test_files_carry_an_etag_and_answer_304_when_unchanged(client: TestClient) -> None:
    first = await client.get("/ui/vendor/marked.esm.js")
    assert first.status == 200
    assert first.headers["Content-Type"].startswith("text/javascript")
    assert first.headers["Cache-Control"] == "no-cache"
    again = await client.get("/ui/vendor/marked.esm.js",
                             headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304 and await again.read() == b""
    css = await client.get("/ui/app.css")
    assert css.headers["Content-Type"].startswith("text/css")


async def test_missing_files_and_paths_outside_web_are_not_found(client: TestClient) -> None:
    assert (await client.get("/ui/nope.js")).status == 404
    assert (await client.get("/ui/vendor/MANIFEST.txt")).status == 404
    for sneaky in ("/ui/../pyproject.toml", "/ui/%2e%2e/routes/web_ui.py",
                   "/ui/..%2f..%2fpyproject.toml"):
        reply = await client.get(sneaky)
        assert reply.status in (404, 200), sneaky
        assert "[tool" not in await reply.text() and "import" not in await reply.text()


async def test_ui_without_slash_redirects(client: TestClient) -> None:
    reply = await client.get("/ui", allow_redirects=False)
    assert reply.status == 308 and reply.headers["Location"] == "/ui/"


def test_the_html_has_no_inline_script_or_style() -> None:
    page = (WEB / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert "<style" not in page and " style=" not in page and " on" not in page.lower().replace(
        " one", "")


def test_every_vendored_file_is_in_the_manifest_with_its_digest() -> None:
    entries = json.loads(MANIFEST.read_text())
    assert isinstance(entries, list)
    listed = {entry["path"] for entry in entries}
    for entry in entries:
        assert {"name", "version", "source", "path", "sha256"} <= entry.keys(), entry
        body = (ROOT / entry["path"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["path"]
    shipped = {p.relative_to(ROOT).as_posix() for p in (WEB / "vendor").rglob("*")
               if p.is_file() and p.name != "MANIFEST.json"}
    assert shipped <= listed, shipped - listed


def test_the_ui_imports_only_files_that_exist() -> None:
    """No CDN and no bare specifiers: every import is a relative path to a file in web/."""
    for script in (WEB / "js").rglob("*.js"):
        for target in re.findall(r"""(?:from|import)\s*\(?\s*['"]([^'"]+)['"]""",
                                 script.read_text()):
            assert target.startswith("."), (script, target)
            assert (script.parent / target).resolve().is_file(), (script, target)
