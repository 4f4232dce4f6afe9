"""The official ``ollama`` Python client against a real companion and the real model."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.conftest import Companion
from tests.integration.test_downloads_api import power_token

MODEL = "smollm2:135m"
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def client(shared_companion: Companion, token: str) -> Iterator[ollama.Client]:
    sdk = ollama.Client(host=shared_companion.url,
                        headers={"Authorization": f"Bearer {token}"}, timeout=120)
    try:
        yield sdk
    finally:
        sdk.close()


def test_list_shows_models_with_details(client: ollama.Client) -> None:
    models = {m.model: m for m in client.list().models}
    smol = models[MODEL]
    assert smol.size and smol.size > 50_000_000
    assert smol.details is not None and smol.details.family == "llama"
    assert smol.details.quantization_level == "Q4_1"


def test_streaming_chat(client: ollama.Client) -> None:
    parts = list(client.chat(model=MODEL, messages=HELLO, stream=True,
                             options={"num_predict": 24, "temperature": 0}))
    assert len(parts) >= 3
    assert all(not p.done for p in parts[:-1]) and parts[-1].done
    text = "".join(p.message.content or "" for p in parts)
    assert text.strip()
    last = parts[-1]
    assert last.done_reason in ("stop", "length")
    assert last.eval_count and 0 < last.eval_count <= 24
    assert last.prompt_eval_count and last.total_duration


def test_chat_and_generate_without_streaming(client: ollama.Client) -> None:
    reply = client.chat(model=MODEL, messages=HELLO, options={"num_predict": 4})
    assert reply.done and reply.message.role == "assistant" and reply.message.content
    generated = client.generate(model=MODEL, prompt="The sky is", stream=False,
                                options={"num_predict": 4})
    assert generated.done and generated.response
    raw = list(client.generate(model=MODEL, prompt="One, two,", raw=True, stream=True,
                               options={"num_predict": 4}))
    assert raw[-1].done and "".join(r.response for r in raw)


def test_embed(client: ollama.Client) -> None:
    reply = client.embed(model=MODEL, input=["hello world", "goodbye"])
    assert len(reply.embeddings) == 2 and len(reply.embeddings[0]) > 100
    assert reply.embeddings[0] != reply.embeddings[1]


def test_show_and_ps(client: ollama.Client) -> None:
    shown = client.show(MODEL)
    assert shown.template and "message" in shown.template
    assert shown.modelinfo and shown.modelinfo["llama.context_length"] == 8192
    client.chat(model=MODEL, messages=HELLO, options={"num_predict": 1})
    running = [m.model for m in client.ps().models]
    assert MODEL in running


def test_errors_use_ollamas_shape(shared_companion: Companion, client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="no-such-model", messages=HELLO)
    assert err.value.status_code == 404 and "no-such-model" in err.value.error
    anonymous = httpx.post(shared_companion.url + "/api/chat",
                           json={"model": MODEL, "messages": HELLO})
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"error"}
    assert httpx.get(shared_companion.url + "/api/version").json()["version"]
    bad = httpx.post(shared_companion.url + "/api/chat", content=b"{nope",
                     headers={"Authorization": client._client.headers["Authorization"]})
    assert bad.status_code == 400 and "error" in json.loads(bad.text)


def _running(client: ollama.Client) -> list[str]:
    return [str(m.model) for m in client.ps().models]


def test_keep_alive_0_unloads_only_for_power_users(shared_companion: Companion, token: str,
                                                   client: ollama.Client) -> None:
    """The Bodhi unload route needs a power user; Ollama's way to unload must too."""
    url = shared_companion.url + "/api/generate"
    user = {"Authorization": f"Bearer {token}"}
    loaded = httpx.post(url, json={"model": MODEL}, headers=user, timeout=120)
    assert loaded.json()["done_reason"] == "load"
    for keep_alive in (0, "0", "0s"):
        refused = httpx.post(url, json={"model": MODEL, "keep_alive": keep_alive},
                             headers=user)
        assert refused.status_code == 403, refused.text
        assert list(refused.json()) == ["error"]  # Ollama's shape
        assert "resource_power_user" in refused.json()["error"]
    assert MODEL in _running(client)  # nothing was unloaded
    done = httpx.post(url, json={"model": MODEL, "keep_alive": 0},
                      headers=power_token(shared_companion), timeout=60)
    assert done.json()["done_reason"] == "unload"
    assert MODEL not in _running(client)
