"""The per-model queue, with the real companion and the real SmolLM2 child: requests beyond
what the child takes wait instead of being refused, the queue is bounded (429 with
Retry-After in each family's format), a client that leaves is dropped from it before the
child sees its request, and the queue shows in ``/bodhi/v1/models/loaded`` and ``/metrics``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Companion, running_companion, wait_until
from tests.integration.test_downloads_api import power_token
from tests.integration.test_metrics import scrape, value

SMOL = "smollm2:135m"
LOADED = "/bodhi/v1/models/loaded"
# llama.cpp logs each request it starts on a slot.
STARTED_TASK = re.compile(r"processing task")


@pytest.fixture(scope="module")
def companion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    # One request at the child at a time, two may wait: small numbers reach the bound fast.
    with running_companion(tmp_path_factory.mktemp("queue"), BODHI_MAX_REQUESTS_PER_MODEL="1",
                           BODHI_QUEUE_PER_MODEL="2") as running:
        yield running


@pytest.fixture(scope="module")
def headers(companion: Companion) -> dict[str, str]:
    return power_token(companion)


def _chat(url: str, headers: dict[str, str], max_tokens: int = 2) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", headers=headers, timeout=120,
                      json={"model": SMOL, "max_tokens": max_tokens, "stream": True,
                            "messages": [{"role": "user", "content": "hi"}]})


def _loaded(companion: Companion, headers: dict[str, str]) -> dict[str, Any]:
    data = httpx.get(companion.url + LOADED, headers=headers).json()["data"]
    return next(m for m in data if m["alias"] == SMOL)


@contextlib.contextmanager
def _client(companion: Companion, headers: dict[str, str], max_tokens: int = 1
            ) -> Iterator[socket.socket]:
    """A raw streaming request whose client can leave at any moment (close the socket)."""
    body = json.dumps({"model": SMOL, "stream": True, "max_tokens": max_tokens,
                       "ignore_eos": True,
                       "messages": [{"role": "user", "content": "Count."}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{companion.port}\r\n"
            f"Authorization: {headers['Authorization']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", companion.port), timeout=10)
    try:
        sock.sendall(head.encode() + body)
        yield sock
    finally:
        sock.close()


def _tasks_started(companion: Companion) -> int:
    log = companion.home / "logs" / "llama-smollm2_135m.log"
    return len(STARTED_TASK.findall(log.read_text(errors="replace")))


def test_more_concurrent_requests_than_the_child_takes_all_succeed(
        companion: Companion, headers: dict[str, str]) -> None:
    with ThreadPoolExecutor(3) as pool:  # 1 at the child, 2 waiting: none refused
        replies = list(pool.map(lambda _: _chat(companion.url, headers), range(3)))
    assert [r.status_code for r in replies] == [200] * 3, [r.text for r in replies]
    assert all("data: [DONE]" in r.text for r in replies)
    samples = scrape(companion, headers)
    assert value(samples, "bodhi_model_queue_wait_seconds_count", model=SMOL) >= 3


def test_a_full_queue_refuses_and_a_client_that_leaves_is_dropped(
        companion: Companion, headers: dict[str, str]) -> None:
    _chat(companion.url, headers)  # loaded, and the start's log lines written
    before = _tasks_started(companion)
    # A long stream holds the child's one turn until its client leaves.
    with _client(companion, headers, max_tokens=4000):
        assert wait_until(lambda: _loaded(companion, headers)["in_flight"] == 1, 30)
        with _client(companion, headers), _client(companion, headers) as second:
            assert wait_until(lambda: _loaded(companion, headers)["queued"] == 2, 10)
            shown = _loaded(companion, headers)
            assert shown["in_flight"] == 1 and shown["queue_oldest_wait"] > 0
            metrics = scrape(companion, headers)
            assert value(metrics, "bodhi_model_queue_waiting", model=SMOL) == 2
            _assert_refused(companion, headers)
            second.close()
            assert wait_until(lambda: _loaded(companion, headers)["queued"] == 1, 10)
            assert value(scrape(companion, headers), "bodhi_model_queue_waiting",
                         model=SMOL) == 1
        assert wait_until(lambda: _loaded(companion, headers)["queued"] == 0, 10)
        assert _loaded(companion, headers)["in_flight"] == 1
    assert wait_until(lambda: _loaded(companion, headers)["in_flight"] == 0, 10)
    # Only the long stream reached the child: the clients that left never did.
    assert _tasks_started(companion) - before == 1
    assert _chat(companion.url, headers).status_code == 200
    assert _tasks_started(companion) - before == 2


def _assert_refused(companion: Companion, headers: dict[str, str]) -> None:
    """One more than the queue holds: 429 with Retry-After, in OpenAI's and Ollama's format."""
    openai = _chat(companion.url, headers)
    assert openai.status_code == 429 and int(openai.headers["Retry-After"]) >= 1
    assert openai.json()["error"]["code"] == "model_busy"
    ollama = httpx.post(companion.url + "/api/chat", headers=headers, timeout=30,
                        json={"model": SMOL, "messages": [{"role": "user", "content": "hi"}]})
    assert ollama.status_code == 429 and int(ollama.headers["Retry-After"]) >= 1
    assert isinstance(ollama.json()["error"], str) and "waiting" in ollama.json()["error"]


def test_the_queue_appears_in_the_loaded_models_schema(companion: Companion,
                                                      headers: dict[str, str]) -> None:
    shown = _loaded(companion, headers)
    assert shown["queued"] == 0 and shown["queue_oldest_wait"] == 0
    assert shown["queue_average_wait"] >= 0
    assert Path(shown["model_path"]).name.endswith(".gguf")
