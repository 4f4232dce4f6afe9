"""The official OpenAI SDK against a real companion and the real embedded model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import Companion

MODEL = "smollm2:135m"
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def client(shared_companion: Companion, token: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=shared_companion.url + "/v1", api_key=token,
                       max_retries=0) as sdk:
        yield sdk


def test_models_list_the_embedded_model(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids
    assert client.models.retrieve(MODEL).id == MODEL


def test_chat_plain(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=8,
                                           temperature=0)
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8


def test_chat_stream_arrives_incrementally(client: openai.OpenAI) -> None:
    started = time.monotonic()
    arrivals: list[float] = []
    text = []
    stream = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=48,
                                            temperature=0, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
            text.append(chunk.choices[0].delta.content)
    assert len(arrivals) >= 2, text
    # Relayed as produced: the first token arrives well before the last one.
    assert arrivals[-1] - arrivals[0] > 0.05, arrivals
    assert "".join(text).strip()


def test_completions(client: openai.OpenAI) -> None:
    reply = client.completions.create(model=MODEL, prompt="The capital of France is",
                                      max_tokens=4, temperature=0)
    assert reply.choices[0].text


def test_embeddings_have_a_vector(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model=MODEL, input=["hello world", "goodbye"])
    assert len(reply.data) == 2
    vector = reply.data[0].embedding
    assert len(vector) > 100 and all(isinstance(x, float) for x in vector)
    assert vector != reply.data[1].embedding
    # Chat keeps working on the child that was restarted with embeddings enabled.
    assert client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)


def test_unknown_model_is_404_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    body = err.value.body
    assert isinstance(body, dict)
    assert body == {"message": "The model `no-such-model` does not exist or you do not have "
                               "access to it.", "type": "invalid_request_error", "param": None,
                    "code": "model_not_found"}


def test_missing_token_is_401(shared_companion: Companion) -> None:
    reply = httpx.get(shared_companion.url + "/v1/models")
    assert reply.status_code == 401
    assert set(reply.json()["error"]) == {"message", "type", "param", "code"}


def test_wrong_token_is_401(shared_companion: Companion, token: str) -> None:
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (wrong, "bodhiapp_nonsense", "sk-something-else"):
        with openai.OpenAI(base_url=shared_companion.url + "/v1", api_key=bad,
                           max_retries=0) as sdk, pytest.raises(openai.AuthenticationError):
            sdk.chat.completions.create(model=MODEL, messages=HELLO)


def test_revoked_token_is_refused_on_the_next_request(shared_companion: Companion) -> None:
    doomed = shared_companion.create_token("doomed")
    with openai.OpenAI(base_url=shared_companion.url + "/v1", api_key=doomed,
                       max_retries=0) as sdk:
        assert sdk.models.list()  # validated, so now cached in the server
        token_id = next(line.split()[0] for line in shared_companion.cli("token", "list")
                        .splitlines() if " doomed " in line)
        shared_companion.cli("token", "revoke", token_id)
        with pytest.raises(openai.AuthenticationError) as err:
            sdk.models.list()
    assert isinstance(err.value.body, dict)
    assert err.value.body["code"] == "auth_error-token_inactive"


def test_foreign_host_header_is_403(shared_companion: Companion, token: str) -> None:
    reply = httpx.get(shared_companion.url + "/v1/models",
                      headers={"Host": "evil.example", "Authorization": f"Bearer {token}"})
    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "host_not_allowed"
    assert httpx.get(shared_companion.url + "/ping", headers={"Host": "evil.example:1135"}
                     ).status_code == 403
    assert httpx.get(shared_companion.url + "/ping", headers={"Host": "localhost:1135"}
                     ).status_code == 200


@pytest.mark.parametrize(("body", "param"), [
    (b"{not json", None),
    (b"[1, 2]", None),
    (b'{"model": "smollm2:135m"}', "messages"),
    (b'{"model": "smollm2:135m", "messages": "hi"}', "messages"),
    (b'{"model": 7, "messages": [{"role": "user", "content": "hi"}]}', "model"),
    (b'{"model": "smollm2:135m", "messages": [{"role": "user", "content": "hi"}],'
     b' "max_tokens": "5"}', "max_tokens"),
    (b'{"model": "smollm2:135m", "messages": [{"content": "hi"}]}', "messages[0].role"),
    (b'{"model": "smollm2:135m", "messages": [{"role": "wizard", "content": "hi"}]}',
     "messages[0].role"),
])
def test_bad_requests_are_400_and_the_server_keeps_serving(
        shared_companion: Companion, token: str, body: bytes, param: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    reply = httpx.post(shared_companion.url + "/v1/chat/completions", content=body,
                       headers=headers)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    ok = httpx.post(shared_companion.url + "/v1/chat/completions", headers=headers, timeout=60,
                    json={"model": MODEL, "messages": HELLO, "max_tokens": 1})
    assert ok.status_code == 200


def test_oversized_body_is_413(shared_companion: Companion, token: str) -> None:
    reply = httpx.post(shared_companion.url + "/v1/chat/completions",
                       content=b"x" * (33 * 1024 * 1024),
                       headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "request_too_large"


def test_public_routes(shared_companion: Companion) -> None:
    assert httpx.get(shared_companion.url + "/ping").json() == {"message": "pong"}
    assert httpx.get(shared_companion.url + "/health").json()["status"] == "ok"
    info = httpx.get(shared_companion.url + "/bodhi/v1/info").json()
    # Nobody set this install up: it is ready in local owner mode.
    assert (info["status"], info["auth_mode"]) == ("ready", "local") and info["version"]
    assert httpx.get(shared_companion.url + "/bodhi/v1/nothing").status_code == 401


def _cache_model(hf_home: Path, model_path: Path, repo: str, commit: str) -> None:
    """Lay the model out as huggingface_hub's cache does: blob, snapshot symlink, ref."""
    repo_dir = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    blob = repo_dir / "blobs" / "0123abcd"
    if not blob.exists():
        blob.symlink_to(model_path)
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    link = snapshot / model_path.name
    if not link.exists():
        link.symlink_to(Path("../..") / "blobs" / blob.name)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)


def test_hf_cache_files_and_yaml_aliases(shared_companion: Companion, client: openai.OpenAI,
                                         model_path: Path) -> None:
    _cache_model(shared_companion.hf_home, model_path, "test-org/smol", "c0ffee")
    (shared_companion.home / "aliases" / "smol-short.yaml").write_text(
        "alias: smol-short\n"
        "repo: test-org/smol\n"
        f"filename: {model_path.name}\n"
        "context_params: ['--ctx-size 512', '--parallel 1']\n"
        "request_params: {max_tokens: 2, temperature: 0}\n")
    ids = {m.id: m.owned_by for m in client.models.list()}
    # OpenAI's word for models the service provides; the source is on /bodhi/v1/models.
    assert ids["test-org/smol:Q4_1"] == ids["smol-short"] == ids[MODEL] == "system"
    short = client.chat.completions.create(model="smol-short", messages=HELLO)
    assert short.usage is not None and short.usage.completion_tokens == 2
    longer = client.chat.completions.create(model="smol-short", messages=HELLO, max_tokens=5)
    assert longer.usage is not None and longer.usage.completion_tokens == 5
    args = " ".join(p.cmdline()[-1] for p in shared_companion.children())
    assert args  # children are running
    cmdlines = [" ".join(p.cmdline()) for p in shared_companion.children()]
    assert any("--alias smol-short" in c and "--ctx-size 512" in c for c in cmdlines), cmdlines


def test_stream_include_usage_ends_with_a_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=4, temperature=0, stream=True,
        stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert 0 < last.usage.completion_tokens <= 4
    assert all(c.usage is None for c in chunks[:-1])


def test_responses_api(client: openai.OpenAI) -> None:
    reply = client.responses.create(model=MODEL, input="Say hello.", max_output_tokens=8)
    assert reply.object == "response" and reply.status == "completed"
    assert reply.output_text
    assert reply.usage is not None and 0 < reply.usage.output_tokens <= 8
    events = [e.type for e in client.responses.create(model=MODEL, input="Say hello.",
                                                      max_output_tokens=4, stream=True)]
    assert events[0] == "response.created" and events[-1] == "response.completed"
    assert "response.output_text.delta" in events


def test_responses_api_keeps_model_grants(shared_companion: Companion) -> None:
    raw = shared_companion.cli("token", "create", "--name", "other-models", "--models",
                               "some-other-model")
    with openai.OpenAI(base_url=shared_companion.url + "/v1", max_retries=0,
                       api_key=raw.strip().splitlines()[-1]) as sdk:
        with pytest.raises(openai.NotFoundError) as ungranted:
            sdk.responses.create(model=MODEL, input="Say hello.", max_output_tokens=4)
        with pytest.raises(openai.NotFoundError) as unknown:
            sdk.responses.create(model="no-such-model", input="Say hello.")
    # Exactly the answer for a model that does not exist.
    assert isinstance(ungranted.value.body, dict) and isinstance(unknown.value.body, dict)
    assert ungranted.value.body["code"] == "model_not_found"
    assert ungranted.value.body == {**unknown.value.body, "message": unknown.value.body[
        "message"].replace("no-such-model", MODEL)}
