"""The companion's few server-rendered pages (OAuth consent, signed in, log in first) share
this layout: inline CSS only, no scripts, no external resources, light and dark colours.

Every value that reaches a page goes through :func:`esc`; callers build bodies from escaped
pieces and constant markup only.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

_CSS = """
:root{color-scheme:light dark;--fg:#1d2025;--muted:#5b616b;--bg:#fff;--panel:#f4f5f7;
--line:#d9dce1;--accent:#2f6f4f;--accent-fg:#fff}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--muted:#a2a8b1;--bg:#1b1d21;
--panel:#25282d;--line:#3a3e45;--accent:#5fb98a;--accent-fg:#0e1a13}}
body{font:15px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);max-width:36rem;
margin:2.5rem auto;padding:0 1rem}
h1{font-size:1.35rem;margin:0 0 .75rem;overflow-wrap:anywhere}
h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);
margin:1.25rem 0 .4rem}
.brand{color:var(--muted);font-weight:600;font-size:.85rem;margin-bottom:1rem}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;
padding:.6rem .8rem;margin:.75rem 0}
.muted{color:var(--muted);font-size:.87rem}
code{background:var(--panel);padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}
b,code,strong{overflow-wrap:anywhere}
fieldset{border:1px solid var(--line);border-radius:8px;margin:.75rem 0;padding:.4rem .8rem .6rem}
legend{font-weight:600;padding:0 .3rem}
label{display:flex;gap:.5rem;align-items:baseline;padding:.15rem 0;overflow-wrap:anywhere}
ul{padding-left:1.2rem}li{margin:.25rem 0}
a{color:var(--accent)}
.choices{display:grid;grid-template-columns:1fr 1fr;gap:.6rem;margin-top:1rem}
button{font:inherit;font-weight:600;padding:.55rem 1rem;border-radius:8px;cursor:pointer;
border:1px solid var(--line);background:var(--panel);color:var(--fg)}
button:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
"""
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<style>{css}</style></head>
<body><div class="brand">Bodhi companion</div>{body}</body></html>"""
_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
            # No form-action: the consent form's answer redirects to the app's own URI.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                       "frame-ancestors 'none'"}


def esc(value: object) -> str:
    """Text for an element's content or a double-quoted attribute."""
    return escape(str(value), quote=True)


def page(title: str, body: str, status: int = 200) -> web.Response:
    """A whole page around `body`, which must already be escaped."""
    return web.Response(text=_PAGE.format(title=esc(title), css=_CSS, body=body),
                        status=status, content_type="text/html", headers=_HEADERS)
