"""Companion stopped: the popup says so and its start button brings it back through the
native host (which launches `bodhi serve` detached and waits until it answers)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import psutil
import pytest

from e2e.conftest import Browser
from tests.conftest import Companion


def _listener_on(port: int) -> psutil.Process | None:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    return None


@pytest.fixture
def stopped(browser: Browser) -> Iterator[Companion]:
    companion = browser.companion
    companion.stop()
    yield companion
    started = _listener_on(companion.port)         # the one the native host launched
    if started is not None:
        with contextlib.suppress(psutil.NoSuchProcess):
            started.terminate()
            started.wait(20)


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
    started = _listener_on(stopped.port)
    assert started is not None
    assert started.cmdline()[-2:] == ["companion", "serve"]
