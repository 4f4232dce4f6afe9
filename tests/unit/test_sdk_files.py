"""The page authors' SDK (``extension/sdk/``: types and ``getBodhi``) and the demo page: the
companion serves a copy of the SDK at ``/ui/sdk/`` (``companion/web/sdk/``, kept identical
to the source here) and the demo at ``/ui/demo/``, a page of its own rather than the UI's.
(``e2e/test_sdk_types.py`` type-checks the demo against the types; ``e2e/test_sdk.py``
runs both in Chromium.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.middleware.errors import error_middleware
from companion.routes import web_ui

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "extension" / "sdk"
SERVED_SDK = ROOT / "companion" / "web" / "sdk"
DEMO = ROOT / "companion" / "web" / "demo"


@pytest.fixture
async def client(aiohttp_client: object) -> TestClient:
    app = web.Application(middlewares=[error_middleware()])
    web_ui.setup(app)
    return await aiohttp_client(app)  # type: ignore[operator, no-any-return]


def test_the_served_sdk_is_a_copy_of_extension_sdk() -> None:
    source = {p.name: p.read_bytes() for p in SDK.iterdir() if p.is_file()}
    served = {p.name: p.read_bytes() for p in SERVED_SDK.iterdir() if p.is_file()}

    assert set(source) == {"bodhi.d.ts", "get-bodhi.js", "get-bodhi.d.ts"}
    assert served == source, "copy extension/sdk/* to companion/web/sdk/ after changing them"


async def test_the_sdk_is_served_to_read_or_import(client: TestClient) -> None:
    module = await client.get("/ui/sdk/get-bodhi.js")
    types = await client.get("/ui/sdk/bodhi.d.ts")

    assert module.status == 200 and module.content_type == "text/javascript"
    assert "export function getBodhi" in await module.text()
    assert types.status == 200 and types.content_type == "text/plain"
    assert "interface Window" in await types.text()


async def test_the_demo_is_its_own_page_under_the_strict_csp(client: TestClient) -> None:
    page = await client.get("/ui/demo/")
    bare = await client.get("/ui/demo", allow_redirects=False)
    script = await client.get("/ui/demo/demo.js")

    assert page.status == 200 and "window.bodhi demo" in await page.text()
    assert '<div id="app">' not in await page.text()          # not the UI's single page
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp
    assert bare.status == 308 and bare.headers["Location"] == "/ui/demo/"
    assert script.status == 200 and script.content_type == "text/javascript"
    assert (await client.get("/ui/chat")).status == 200          # UI routes are unchanged


def test_the_demo_has_no_inline_script_or_style_and_imports_what_exists() -> None:
    page = (DEMO / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert "<style" not in page and " style=" not in page
    assert re.search(r"\son[a-z]+=", page) is None
    script = DEMO / "demo.js"
    for target in re.findall(r"""from\s+['"]([^'"]+)['"]""", script.read_text()):
        assert (script.parent / target).resolve().is_file(), target
