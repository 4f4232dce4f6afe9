"""The native host's `start` launches `bodhi serve` detached and waits until it proves itself;
`status` then reports it running; a second `start` leaves it alone. `pair` with nothing
running starts it the same way, then asks it for the credential over HTTP."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from native_host.framing import read_frame, write_frame
from native_host.ids import CHROME_EXTENSION_ID
from tests.conftest import free_port, stop_listener


def host(env: dict[str, str], *messages: dict[str, Any], argv: tuple[str, ...] = ()
         ) -> list[dict[str, Any]]:
    request = io.BytesIO()
    for message in messages:
        write_frame(request, message)
    done = subprocess.run([sys.executable, "-m", "native_host", *argv],
                          input=request.getvalue(), capture_output=True, timeout=120, env=env)
    replies, stream = [], io.BytesIO(done.stdout)
    while (reply := read_frame(stream)) is not None:
        replies.append(reply)
    return replies


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = {**os.environ, "BODHI_HOME": str(tmp_path / "bodhi"), "BODHI_PORT": str(port),
           "HF_HOME": str(tmp_path / "hf")}
    yield env
    stop_listener(port)


def test_start_launches_a_companion_that_outlives_the_host(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{env['BODHI_PORT']}"
    before, started, after, again = host(
        env, {"id": 1, "action": "status"}, {"id": 2, "action": "start"},
        {"id": 3, "action": "status"}, {"id": 4, "action": "start"})

    assert before["result"]["running"] is False
    assert started["ok"] is True, started
    assert started["result"]["started"] is True
    assert after["result"]["running"] is True
    assert after["result"]["url"] == url
    assert again["result"]["started"] is False
    # The host has exited; the companion it launched still answers.
    assert httpx.get(url + "/ping", timeout=5).json() == {"message": "pong"}


def test_pair_starts_the_companion_then_pairs_with_it(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{env['BODHI_PORT']}"
    [paired] = host(env, {"id": 1, "action": "pair"},
                    argv=(f"chrome-extension://{CHROME_EXTENSION_ID}/",))

    assert paired["ok"] is True, paired
    assert paired["result"]["url"] == url
    grants = httpx.get(url + "/bodhi/v1/apps/grants", timeout=5, headers={
        "Authorization": f"Bearer {paired['result']['credential']}"})
    assert grants.status_code == 200, grants.text
