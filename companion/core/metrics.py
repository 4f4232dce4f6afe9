"""Prometheus metrics: one registry per server, rendered at ``/metrics``.

Services report through ``Metrics`` methods; only this module knows ``prometheus_client``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_QUEUE_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_LOAD_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
# Token counts in an OpenAI ``usage`` object or llama.cpp's ``timings``.
_COUNT = re.compile(rb'"(prompt_tokens|completion_tokens|prompt_n|predicted_n)"\s*:\s*(\d+)')
_OVERLAP = 64


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("bodhi_http_requests", "HTTP requests answered, by API family "
                                "and status code.", ["family", "status"], registry=r)
        self.tokens = Counter("bodhi_tokens", "Tokens processed by local models; direction is "
                              "in (prompt) or out (generated).", ["model", "direction"],
                              registry=r)
        self.ttft = Histogram("bodhi_time_to_first_token_seconds", "From request to the first "
                              "streamed chunk.", ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.duration = Histogram("bodhi_inference_duration_seconds", "From request to the end "
                                  "of the reply.", ["model", "endpoint"],
                                  buckets=_LATENCY_BUCKETS, registry=r)
        self.load_time = Histogram("bodhi_model_load_seconds", "Time to start a model server "
                                   "until it is ready.", ["model"], buckets=_LOAD_BUCKETS,
                                   registry=r)
        self.loaded = Gauge("bodhi_models_loaded", "Model servers currently running.",
                            registry=r)
        self.queue_waiting = Gauge("bodhi_model_queue_waiting", "Requests waiting in a "
                                   "local model's queue.", ["model"], registry=r)
        self.queue_wait_time = Histogram("bodhi_model_queue_wait_seconds", "How long requests "
                                         "waited in a local model's queue before being sent.",
                                         ["model"], buckets=_QUEUE_BUCKETS, registry=r)
        self.download_bytes = Counter("bodhi_download_bytes", "Bytes of model files downloaded.",
                                      registry=r)
        # Counted when scraped: a count that grows while the load does not is a leak.
        self.tasks = Gauge("bodhi_asyncio_tasks", "asyncio tasks alive in the server's event "
                           "loop.", registry=r)
        self.tasks.set_function(_task_count)
        # Labelled children by metric and label values: prometheus_client's ``labels()``
        # checks and locks on every call, five times per relayed request.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Counter | Gauge | Histogram, *values: str) -> Any:
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def count_loaded(self, count: Callable[[], int]) -> None:
        self.loaded.set_function(lambda: float(count()))

    def model_loaded(self, model: str, seconds: float) -> None:
        self._child(self.load_time, model).observe(seconds)

    def queue_length(self, model: str, waiting: int) -> None:
        self._child(self.queue_waiting, model).set(waiting)

    def queue_wait(self, model: str, seconds: float) -> None:
        self._child(self.queue_wait_time, model).observe(seconds)

    def downloaded(self, n: int) -> None:
        self.download_bytes.inc(n)

    def observe_duration(self, model: str, endpoint: str, seconds: float) -> None:
        self._child(self.duration, model, endpoint).observe(seconds)

    def observe_ttft(self, model: str, seconds: float) -> None:
        self._child(self.ttft, model).observe(seconds)

    def count_tokens(self, model: str, direction: str, n: int) -> None:
        self._child(self.tokens, model, direction).inc(n)

    def request(self, family: str, status: int) -> None:
        self._child(self.requests, family, str(status)).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _task_count() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop (rendered outside the server)
        return 0.0


class ReplyWatch:
    """Watches a model server's reply go by: first chunk time and token counts."""

    def __init__(self) -> None:
        self.first_chunk: float | None = None
        self.counts: dict[str, int] = {}
        self._tail = b""

    def saw(self, chunk: bytes, at: float) -> None:
        if self.first_chunk is None:
            self.first_chunk = at
        for name, value in _COUNT.findall(self._tail + chunk):
            self.counts[name.decode()] = int(value)
        self._tail = chunk[-_OVERLAP:]

    @property
    def tokens_in(self) -> int:
        return self.counts.get("prompt_tokens", self.counts.get("prompt_n", 0))

    @property
    def tokens_out(self) -> int:
        return self.counts.get("completion_tokens", self.counts.get("predicted_n", 0))

    def report(self, metrics: Metrics, model: str, endpoint: str, started: float,
               ended: float, streamed: bool) -> None:
        metrics.observe_duration(model, endpoint, ended - started)
        if streamed and self.first_chunk is not None:
            metrics.observe_ttft(model, self.first_chunk - started)
        if self.tokens_in:
            metrics.count_tokens(model, "in", self.tokens_in)
        if self.tokens_out:
            metrics.count_tokens(model, "out", self.tokens_out)
