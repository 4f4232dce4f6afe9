"""``bodhi_asyncio_tasks`` counts the tasks alive in the event loop when scraped."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from companion.core.metrics import Metrics


def _tasks(metrics: Metrics) -> float:
    body, _ = metrics.render()
    for family in text_string_to_metric_families(body.decode()):
        if family.name == "bodhi_asyncio_tasks":
            return float(family.samples[0].value)
    raise AssertionError("no bodhi_asyncio_tasks")


async def test_the_gauge_follows_the_tasks_alive() -> None:
    metrics = Metrics()
    before = _tasks(metrics)
    stop = asyncio.Event()
    waiting = [asyncio.create_task(stop.wait()) for _ in range(3)]
    assert _tasks(metrics) == before + 3
    stop.set()
    await asyncio.gather(*waiting)
    assert _tasks(metrics) == before


def test_outside_a_loop_it_is_zero() -> None:
    assert _tasks(Metrics()) == 0
