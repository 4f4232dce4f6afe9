"""Router aliases end to end: one name over several models, against ``fake_openai`` (which
counts the calls it gets) and the local embedded model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Companion, free_port, running_companion
from tests.integration import fake_openai
from tests.integration.test_downloads_api import power_token

ROUTERS = "/bodhi/v1/models/router"
HI = [{"role": "user", "content": "Say hi."}]
SMOL = "smollm2:135m"


@pytest.fixture(scope="module")
def fake() -> Iterator[fake_openai.FakeOpenAI]:
    with fake_openai.serving() as serving:
        yield serving


@pytest.fixture(scope="module")
def bodhi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    with running_companion(tmp_path_factory.mktemp("routers"),
                           BODHI_ROUTER_COOLDOWN_SECS="30") as running:
        yield running


@pytest.fixture(scope="module")
def admin(bodhi: Companion, fake: fake_openai.FakeOpenAI) -> dict[str, str]:
    headers = power_token(bodhi)
    for record in ({"id": "fake", "base_url": fake.url, "api_key": fake_openai.KEY,
                    "models": ["ok-1", "ok-2", "rate-limited", "broken", "cut"],
                    "prefix": "f/"},
                   {"id": "down", "base_url": f"http://127.0.0.1:{free_port()}/v1",
                    "models": ["m"], "prefix": "down/"}):
        made = httpx.post(bodhi.url + "/bodhi/v1/models/api", headers=headers,
                          json={"api_format": "openai", **record})
        assert made.status_code == 201, made.text
    return headers


def _router(bodhi: Companion, headers: dict[str, str], alias: str, targets: list[str],
            strategy: str = "fallback") -> dict[str, Any]:
    made = httpx.post(bodhi.url + ROUTERS, headers=headers,
                      json={"alias": alias, "targets": targets, "strategy": strategy})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _chat(bodhi: Companion, headers: dict[str, str], model: str, **extra: Any
          ) -> httpx.Response:
    return httpx.post(bodhi.url + "/v1/chat/completions", headers=headers, timeout=120,
                      json={"model": model, "messages": HI, "max_tokens": 4, **extra})


def _answer(reply: httpx.Response) -> str:
    assert reply.status_code == 200, reply.text
    return str(reply.json()["choices"][0]["message"]["content"])


def test_a_429_moves_on_and_cools_down_for_its_retry_after(
        bodhi: Companion, admin: dict[str, str], fake: fake_openai.FakeOpenAI) -> None:
    _router(bodhi, admin, "after-429", ["f/rate-limited", "f/ok-1"])
    reply = _chat(bodhi, admin, "after-429")
    assert _answer(reply) == "hi from ok-1" and reply.json()["model"] == "after-429"
    failed_at = time.monotonic()
    assert fake.calls["rate-limited"] == 1
    for _ in range(3):  # cooling down: the failed target is not called again
        assert _answer(_chat(bodhi, admin, "after-429")) == "hi from ok-1"
    assert fake.calls["rate-limited"] == 1
    while fake.calls["rate-limited"] == 1 and time.monotonic() - failed_at < 15:
        _chat(bodhi, admin, "after-429")
        time.sleep(0.5)
    assert fake.calls["rate-limited"] == 2  # its Retry-After (7 s) is over, not the 30 s default
    assert 6.0 <= time.monotonic() - failed_at < 15


def test_a_5xx_and_an_unreachable_target_move_on(bodhi: Companion, admin: dict[str, str],
                                                 fake: fake_openai.FakeOpenAI) -> None:
    _router(bodhi, admin, "after-500", ["f/broken", "f/ok-2"])
    assert _answer(_chat(bodhi, admin, "after-500")) == "hi from ok-2"
    assert _answer(_chat(bodhi, admin, "after-500")) == "hi from ok-2"
    assert fake.calls["broken"] == 1  # the default cool-down (30 s) holds
    _router(bodhi, admin, "after-refused", ["down/m", "f/ok-1"])
    assert _answer(_chat(bodhi, admin, "after-refused")) == "hi from ok-1"


def test_a_local_model_is_a_target_too(bodhi: Companion, admin: dict[str, str]) -> None:
    _router(bodhi, admin, "local-after-down", ["down/m", SMOL])
    reply = _chat(bodhi, admin, "local-after-down")
    assert reply.status_code == 200, reply.text
    assert reply.json()["object"] == "chat.completion"


def test_round_robin_alternates(bodhi: Companion, admin: dict[str, str]) -> None:
    _router(bodhi, admin, "rr", ["f/ok-1", "f/ok-2"], "round_robin")
    answers = [_answer(_chat(bodhi, admin, "rr")) for _ in range(4)]
    assert answers in (["hi from ok-1", "hi from ok-2"] * 2, ["hi from ok-2", "hi from ok-1"] * 2)


def test_a_stream_that_began_is_never_retried(bodhi: Companion, admin: dict[str, str],
                                              fake: fake_openai.FakeOpenAI) -> None:
    _router(bodhi, admin, "cut-first", ["f/cut", "f/ok-2"])
    before = fake.calls["ok-2"]
    reply = _chat(bodhi, admin, "cut-first", stream=True)
    events = [line[6:] for line in reply.text.splitlines() if line.startswith("data: ")]
    assert reply.status_code == 200
    assert json.loads(events[0])["model"] == "cut-first"
    assert json.loads(events[-1])["error"]["code"] == "provider_stream_cut"
    assert fake.calls["ok-2"] == before


def test_every_target_cooling_down_is_503_with_retry_after(bodhi: Companion,
                                                           admin: dict[str, str]) -> None:
    made = httpx.post(bodhi.url + "/bodhi/v1/models/api", headers=admin, json={
        "api_format": "openai", "base_url": f"http://127.0.0.1:{free_port()}/v1",
        "models": ["only"], "prefix": "down-too/"})
    assert made.status_code == 201, made.text
    _router(bodhi, admin, "only-down", ["down-too/only"])
    first = _chat(bodhi, admin, "only-down")
    assert first.status_code == 502 and first.json()["error"]["code"] == "provider_unreachable"
    second = _chat(bodhi, admin, "only-down")
    assert second.status_code == 503
    assert second.json()["error"]["code"] == "router_targets_unavailable"
    assert 1 <= int(second.headers["Retry-After"]) <= 30


def test_a_router_alias_is_granted_by_its_own_name(bodhi: Companion,
                                                   admin: dict[str, str]) -> None:
    _router(bodhi, admin, "granted", ["f/ok-1"])
    raw = bodhi.cli("token", "create", "--name", "router-only", "--scope", "scope_token_user",
                    "--models", "granted").strip().splitlines()[-1]
    limited = {"Authorization": f"Bearer {raw}"}
    listed = httpx.get(bodhi.url + "/v1/models", headers=limited).json()["data"]
    assert [m["id"] for m in listed] == ["granted"]
    assert _answer(_chat(bodhi, limited, "granted")) == "hi from ok-1"
    assert _chat(bodhi, limited, "f/ok-1").status_code == 404
    ours = httpx.get(bodhi.url + "/bodhi/v1/models", headers=limited).json()["data"]
    assert ours == [{"alias": "granted", "source": "router", "targets": ["f/ok-1"],
                     "strategy": "fallback"}]


def test_router_records_are_checked(bodhi: Companion, admin: dict[str, str]) -> None:
    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(bodhi.url + ROUTERS, headers=admin, json=body)

    unknown = post({"alias": "r-unknown", "targets": ["nope"]})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "targets"
    for taken in (SMOL, "f/ok-1"):
        clash = post({"alias": taken, "targets": ["f/ok-2"]})
        assert clash.status_code == 409 and clash.json()["error"]["param"] == "alias"
    _router(bodhi, admin, "r-crud", ["f/ok-1"])
    assert post({"alias": "r-crud", "targets": ["f/ok-1"]}).status_code == 409
    api_clash = httpx.post(bodhi.url + "/bodhi/v1/models/api", headers=admin, json={
        "api_format": "openai", "base_url": "http://127.0.0.1:9/v1", "models": ["r-crud"]})
    assert api_clash.status_code == 409
    url = bodhi.url + ROUTERS + "/r-crud"
    changed = httpx.put(url, headers=admin, json={"targets": ["f/ok-2", "f/ok-1"],
                                                  "strategy": "round_robin"})
    assert changed.json()["targets"] == ["f/ok-2", "f/ok-1"]
    assert httpx.get(url, headers=admin).json()["strategy"] == "round_robin"
    assert httpx.delete(url, headers=admin).status_code == 204
    assert _chat(bodhi, admin, "r-crud").status_code == 404


def test_a_plain_user_cannot_manage_router_aliases(bodhi: Companion) -> None:
    raw = bodhi.cli("token", "create", "--name", "plain", "--scope",
                    "scope_token_user").strip().splitlines()[-1]
    user = {"Authorization": f"Bearer {raw}"}
    assert httpx.post(bodhi.url + ROUTERS, headers=user,
                      json={"alias": "x", "targets": [SMOL]}).status_code == 403


def test_a_local_target_that_cannot_serve_is_skipped(bodhi: Companion,
                                                     admin: dict[str, str]) -> None:
    made = httpx.post(bodhi.url + "/bodhi/v1/models/alias", headers=admin, json={
        "alias": "not-downloaded", "repo": "nobody/nothing", "filename": "absent.gguf"})
    assert made.status_code == 201, made.text
    assert _chat(bodhi, admin, "not-downloaded").status_code == 404
    _router(bodhi, admin, "local-missing-first", ["not-downloaded", "f/ok-2"])
    assert _answer(_chat(bodhi, admin, "local-missing-first")) == "hi from ok-2"
