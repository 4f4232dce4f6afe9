"""Swagger UI at /swagger-ui in real Chromium: it renders the companion's own document from
the vendored files under its 'self'-only Content-Security-Policy (nothing blocked, nothing
fetched from elsewhere)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from e2e.conftest import CHROMIUM
from tests.conftest import running_companion, wait_until

UI_SECS = 20


def test_swagger_ui_renders_every_area_of_the_api(tmp_path: Path) -> None:
    with running_companion(tmp_path) as companion, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(UI_SECS * 1000)
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            elsewhere: list[str] = []
            page.on("request", lambda r: elsewhere.append(r.url)
                    if not r.url.startswith(companion.url) else None)
            page.goto(companion.url + "/swagger-ui")
            page.locator(".opblock").first.wait_for()
            assert page.locator("button.authorize").is_visible()
            # Swagger UI renders the sections as they scroll into view; the last tag's paths
            # are there once the whole document rendered. Polled from here: a page script
            # (wait_for_function) would need 'unsafe-eval', which the CSP refuses.
            last = page.get_by_text("/bodhi/v1/users/{user_id}/role")

            def scrolled_to_the_end() -> bool:
                page.mouse.wheel(0, 4000)
                return last.count() > 0

            assert wait_until(scrolled_to_the_end, UI_SECS, interval=0.2)
            assert problems == [] and elsewhere == []
        finally:
            browser.close()
