"""Companion stopped: the popup says so and its start button brings it back through the
native host (which launches `bodhi serve` detached and waits until it answers)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from e2e.conftest import Browser
from tests.conftest import Companion, listener_on, stop_listener


@pytest.fixture
def stopped(browser: Browser) -> Iterator[Companion]:
    companion = browser.companion
    companion.stop()
    yield companion
    stop_listener(companion.port)


def test_the_start_button_brings_the_companion_back(browser: Browser,
                                                    stopped: Companion) -> None:
    browser.set_server_url(stopped.url)
    popup = browser.popup()
    assert popup.get_by_test_id("server-status").inner_text() == "unreachable"
    assert "companion stopped" in popup.get_by_test_id("native-state").inner_text()

    popup.get_by_test_id("server-start").click()

    popup.get_by_test_id("server-status").filter(has_text="not-paired").wait_for(
        timeout=120_000)
    assert popup.get_by_test_id("server-start").is_hidden()
    assert httpx.get(stopped.url + "/ping", timeout=5).json() == {"message": "pong"}
    started = listener_on(stopped.port)
    assert started is not None
    assert started.cmdline()[-2:] == ["companion", "serve"]
