"""``/metrics`` parses as Prometheus text and counts the requests just made."""

from __future__ import annotations

import time

import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Companion
from tests.integration.test_downloads_api import power_token

MODEL = "smollm2:135m"
HELLO = [{"role": "user", "content": "Say hello."}]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(companion: Companion, headers: dict[str, str]) -> Samples:
    reply = httpx.get(companion.url + "/metrics", headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_tokens_and_latency(shared_companion: Companion,
                                                   token: str) -> None:
    headers = power_token(shared_companion)
    before = scrape(shared_companion, headers)
    with openai.OpenAI(base_url=shared_companion.url + "/v1", api_key=token,
                       max_retries=0) as sdk:
        sdk.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=5)
        stream = sdk.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=5,
                                             stream=True,
                                             stream_options={"include_usage": True})
        assert list(stream)
        httpx.get(shared_companion.url + "/v1/models/no-such-model",
                  headers={"Authorization": f"Bearer {token}"})
    httpx.get(shared_companion.url + "/api/tags", headers={"Authorization": f"Bearer {token}"})
    # A stream is counted when its handler returns, which may be just after the client has
    # read the last event: scrape until it shows (each scrape counts itself next time).
    scrapes, deadline = 0, time.monotonic() + 10
    while True:
        after, scrapes = scrape(shared_companion, headers), scrapes + 1
        done = value(after, "bodhi_http_requests_total", family="openai", status="200")
        if done - value(before, "bodhi_http_requests_total", family="openai",
                        status="200") >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("bodhi_http_requests_total", family="openai", status="200") == 2
    assert delta("bodhi_http_requests_total", family="openai", status="404") == 1
    assert delta("bodhi_http_requests_total", family="ollama", status="200") == 1
    assert delta("bodhi_http_requests_total", family="bodhi", status="200") == scrapes
    assert 2 <= delta("bodhi_tokens_total", model=MODEL, direction="out") <= 10
    assert delta("bodhi_tokens_total", model=MODEL, direction="in") > 0
    assert delta("bodhi_time_to_first_token_seconds_count", model=MODEL) == 1
    assert delta("bodhi_inference_duration_seconds_count", model=MODEL,
                 endpoint="/v1/chat/completions") == 2
    assert value(after, "bodhi_models_loaded") >= 1
    assert value(after, "bodhi_model_load_seconds_count", model=MODEL) >= 1
    assert ("bodhi_download_bytes_total", frozenset()) in after


def test_metrics_need_a_power_user(shared_companion: Companion, token: str) -> None:
    assert httpx.get(shared_companion.url + "/metrics").status_code == 401
    assert httpx.get(shared_companion.url + "/metrics",
                     headers={"Authorization": f"Bearer {token}"}).status_code == 403
