"""Ollama's model management (pull, delete, copy, create) against a real companion, with the
official ``ollama`` client where it fits and a local HF-protocol server to pull from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from tests.conftest import Companion, running_companion
from tests.hf_server import HubServer
from tests.integration.test_downloads_api import PULLS, REPO, power_token

EMBEDDED = "smollm2:135m"


@pytest.fixture
def hub(model_path: Path) -> Iterator[HubServer]:
    server = HubServer()
    server.add(REPO, model_path.name, model_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def companion(tmp_path: Path, hub: HubServer) -> Iterator[Companion]:
    with running_companion(tmp_path, HF_ENDPOINT=hub.url) as running:
        yield running


@pytest.fixture
def power(companion: Companion) -> Iterator[ollama.Client]:
    sdk = ollama.Client(host=companion.url, headers=power_token(companion), timeout=120)
    try:
        yield sdk
    finally:
        sdk.close()


def _names(client: ollama.Client) -> set[str]:
    return {str(m.model) for m in client.list().models}


def test_pull_streams_progress_on_a_download_job(companion: Companion, hub: HubServer,
                                                 power: ollama.Client, model_path: Path) -> None:
    size = model_path.stat().st_size
    hub.bytes_per_s = size // 3
    name = f"hf.co/{REPO}/{model_path.name}"
    parts = list(power.pull(name, stream=True))
    statuses = [p.status for p in parts]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    downloading = [p for p in parts if str(p.status).startswith("downloading")]
    assert len(downloading) >= 2  # progress while the transfer runs
    assert all(p.total == size and p.digest and str(p.digest).startswith("sha256:")
               for p in downloading)
    assert downloading[-1].completed == size
    assert [c for c in (p.completed or 0 for p in downloading)] == sorted(
        p.completed or 0 for p in downloading)
    assert any(n.startswith(REPO + ":") for n in _names(power))
    again = power.pull(name, stream=False)  # already here: success at once, no new job
    assert again.status == "success"
    jobs = httpx.get(companion.url + PULLS, headers=power_token(companion)).json()
    assert jobs["total"] == 1


def test_pull_follows_the_running_job(companion: Companion, hub: HubServer,
                                      power: ollama.Client, model_path: Path) -> None:
    hub.bytes_per_s = model_path.stat().st_size // 2
    headers = power_token(companion)
    started = httpx.post(companion.url + PULLS, headers=headers,
                         json={"repo": REPO, "filename": model_path.name}).json()
    done = power.pull(f"{REPO}/{model_path.name}", stream=False)  # the older 'name' below
    assert done.status == "success"
    jobs = httpx.get(companion.url + PULLS, headers=headers).json()["data"]
    assert [j["id"] for j in jobs] == [started["id"]] and jobs[0]["status"] == "completed"
    old = httpx.post(companion.url + "/api/pull", headers=headers, timeout=60,
                     json={"name": f"huggingface.co/{REPO}/{model_path.name}",
                           "stream": False})
    assert old.json() == {"status": "success"}


def test_pull_by_quantisation_as_ollama_names_hub_models(power: ollama.Client) -> None:
    """``hf.co/owner/repo:QUANT``: the repository's GGUF file of that quantisation."""
    parts = list(power.pull(f"hf.co/{REPO}:q4_1", stream=True))
    assert parts[0].status == "pulling manifest" and parts[-1].status == "success"
    assert f"{REPO}:Q4_1" in _names(power)
    with pytest.raises(ollama.ResponseError) as err:
        power.pull(f"hf.co/{REPO}:Q8_0")
    assert err.value.status_code == 404 and "it has: Q4_1" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        power.pull("hf.co/bodhi-test/no-such-repo")
    assert err.value.status_code == 502 and "not found" in err.value.error


def test_pull_errors_in_ollamas_shape(companion: Companion, power: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        power.pull("llama3.2:1b")
    assert err.value.status_code == 400 and "hf.co/owner/repo/file.gguf" in err.value.error
    missing = f"hf.co/{REPO}/missing-Q8_0.gguf"
    with httpx.stream("POST", companion.url + "/api/pull", json={"model": missing},
                      headers=power_token(companion), timeout=60) as reply:
        assert reply.status_code == 200
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert lines[0] == {"status": "pulling manifest"}
    assert list(lines[-1]) == ["error"] and "missing-Q8_0.gguf" in lines[-1]["error"]
    with pytest.raises(ollama.ResponseError) as err:
        power.pull(missing, stream=False)
    assert err.value.status_code == 502


def test_create_copy_delete_aliases(companion: Companion, power: ollama.Client) -> None:
    parts = list(power.create(model="tuned", from_=EMBEDDED, stream=True,
                              parameters={"temperature": 0.2, "num_ctx": 1024,
                                          "stop": ["</s>"]}))
    assert parts[-1].status == "success"
    alias = httpx.get(companion.url + "/bodhi/v1/models/alias/tuned",
                      headers=power_token(companion)).json()
    assert alias["request_params"] == {"temperature": 0.2, "stop": ["</s>"]}
    assert alias["context_params"] == ["--ctx-size 1024"]
    shown = httpx.post(companion.url + "/api/show", json={"name": "tuned"},
                       headers=power_token(companion))
    assert shown.status_code == 200 and "temperature 0.2" in shown.json()["parameters"]
    assert power.copy("tuned", "tuned-copy").status == "success"
    assert {"tuned", "tuned-copy"} <= _names(power)
    with pytest.raises(ollama.ResponseError) as err:
        power.copy("tuned", "tuned-copy")
    assert err.value.status_code == 409
    with pytest.raises(ollama.ResponseError) as err:
        power.copy("no-such-model", "x")
    assert err.value.status_code == 404 and "no-such-model" in err.value.error
    assert power.delete("tuned-copy").status == "success"
    old = httpx.request("DELETE", companion.url + "/api/delete", json={"name": "tuned"},
                        headers=power_token(companion))
    assert old.status_code == 200
    assert not {"tuned", "tuned-copy"} & _names(power)
    with pytest.raises(ollama.ResponseError) as err:
        power.delete("tuned")
    assert err.value.status_code == 404 and list(json.loads(
        httpx.request("DELETE", companion.url + "/api/delete", json={"model": "tuned"},
                      headers=power_token(companion)).text)) == ["error"]


def test_create_refuses_what_it_cannot_do(power: ollama.Client) -> None:
    refusals = [dict(model="a", files={"m.gguf": "sha256:" + "0" * 64}),
                dict(model="a", from_=EMBEDDED, system="Be brief."),
                dict(model="a", from_=EMBEDDED, parameters={"no_such": 1}),
                dict(model="a", from_=EMBEDDED, parameters={"num_ctx": "big"}),
                dict(model="a", from_="no-such-model")]
    for refused in refusals:
        with pytest.raises(ollama.ResponseError) as err:
            power.create(**refused)  # type: ignore[arg-type]
        assert err.value.status_code in (400, 404), refused
    with pytest.raises(ollama.ResponseError) as err:
        power.create(model="a", files={"m.gguf": "sha256:" + "0" * 64})
    assert "'files' is not supported" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        power.create(model="a")
    assert err.value.status_code == 400 and "'from' is required" in err.value.error
    assert "a" not in _names(power)


def test_delete_a_pulled_file(companion: Companion, power: ollama.Client,
                              model_path: Path) -> None:
    power.pull(f"hf.co/{REPO}/{model_path.name}")
    pulled = next(n for n in _names(power) if n.startswith(REPO + ":"))
    assert power.delete(pulled).status == "success"
    assert pulled not in _names(power)
    with pytest.raises(ollama.ResponseError) as err:
        power.delete(EMBEDDED)
    assert err.value.status_code == 400


def test_only_power_users_manage_models(companion: Companion, model_path: Path) -> None:
    raw = companion.cli("token", "create", "--name", "u", "--scope",
                        "scope_token_user").strip().splitlines()[-1]
    user = {"Authorization": f"Bearer {raw}"}
    limited = companion.cli("token", "create", "--name", "l", "--scope",
                            "scope_token_power_user", "--models",
                            EMBEDDED).strip().splitlines()[-1]
    calls = [("POST", "/api/pull", {"model": f"hf.co/{REPO}/{model_path.name}"}),
             ("DELETE", "/api/delete", {"model": EMBEDDED}),
             ("POST", "/api/copy", {"source": EMBEDDED, "destination": "mine"}),
             ("POST", "/api/create", {"model": "mine", "from": EMBEDDED})]
    for method, path, body in calls:
        refused = httpx.request(method, companion.url + path, json=body, headers=user)
        assert refused.status_code == 403, (path, refused.text)
        assert list(refused.json()) == ["error"]
        only_some = httpx.request(method, companion.url + path, json=body,
                                  headers={"Authorization": f"Bearer {limited}"})
        assert only_some.status_code == 403 and "limited" in only_some.json()["error"]
        anonymous = httpx.request(method, companion.url + path, json=body)
        assert anonymous.status_code == 401
    jobs = httpx.get(companion.url + PULLS, headers=power_token(companion)).json()
    assert jobs["total"] == 0
    assert "mine" not in {m["name"] for m in httpx.get(companion.url + "/api/tags",
                                                       headers=user).json()["models"]}
