"""Remote API models end to end: a second companion on loopback plays the OpenAI-format
provider (it wants its own API token as the provider key), and ``fake_openai`` plays one that
misbehaves. Everything goes through the companion under test with the real SDKs."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import openai
import pytest

from tests.conftest import (
    START_TIMEOUT,
    Companion,
    db_path,
    free_port,
    running_companion,
    wait_until,
)
from tests.integration import fake_openai
from tests.integration.test_downloads_api import power_token

API = "/bodhi/v1/models/api"
SMOL = "smollm2:135m"
HI = [{"role": "user", "content": "Say hi."}]


class CapturedCompanion(Companion):
    """A companion whose standard output and error go to a file the test reads."""

    def start(self) -> Companion:
        self.home.mkdir(parents=True, exist_ok=True)
        self.out = self.home.parent / "stdout.txt"
        with self.out.open("wb") as sink:
            self.proc = subprocess.Popen([sys.executable, "-m", "companion", "serve"],
                                         env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        if not wait_until(self._answers, START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"companion did not start; log:\n{self.log_text()}")
        return self


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    with running_companion(tmp_path_factory.mktemp("provider")) as running:
        yield running


@pytest.fixture(scope="module")
def provider_key(provider: Companion) -> str:
    return provider.create_token("as-a-provider")


@pytest.fixture(scope="module")
def fake() -> Iterator[fake_openai.FakeOpenAI]:
    with fake_openai.serving() as serving:
        yield serving


@pytest.fixture(scope="module")
def bodhi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CapturedCompanion]:
    companion = CapturedCompanion(tmp_path_factory.mktemp("bodhi"), BODHI_LOG_STDOUT="true")
    try:
        companion.start()
        yield companion
    finally:
        companion.stop()


@pytest.fixture(scope="module")
def admin(bodhi: Companion) -> dict[str, str]:
    return power_token(bodhi)


def _record(bodhi: Companion, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    created = httpx.post(bodhi.url + API, headers=headers, json=fields, timeout=30)
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.fixture(scope="module")
def remote(bodhi: Companion, admin: dict[str, str], provider: Companion,
           provider_key: str) -> dict[str, Any]:
    """``remote/smollm2:135m`` on the provider companion, and every ``all/`` name."""
    _record(bodhi, admin, id="everything", api_format="openai",
            base_url=provider.url + "/v1", api_key=provider_key, models=[],
            prefix="all/", forward_all_with_prefix=True)
    return _record(bodhi, admin, id="second-bodhi", api_format="openai",
                   base_url=provider.url + "/v1/", api_key=provider_key, models=[SMOL],
                   prefix="remote/", extra_body={"temperature": 0})


@contextlib.contextmanager
def _sdk(bodhi: Companion, headers: dict[str, str]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=bodhi.url + "/v1",
                       api_key=headers["Authorization"].removeprefix("Bearer "),
                       max_retries=0, timeout=120) as sdk:
        yield sdk


def test_a_record_shows_no_key_only_its_hint(remote: dict[str, Any], provider_key: str,
                                             bodhi: Companion, admin: dict[str, str]) -> None:
    assert remote["has_api_key"] is True
    assert remote["api_key_hint"] == "…" + provider_key[-4:]
    assert remote["base_url"].endswith("/v1") and remote["prefix"] == "remote/"
    listed = httpx.get(bodhi.url + API, headers=admin).json()
    assert listed["total"] == 2 and {r["id"] for r in listed["data"]} == {"everything",
                                                                         "second-bodhi"}
    assert provider_key not in json.dumps(listed)
    assert "api_key" not in listed["data"][0]


def test_the_key_is_sealed_at_rest(remote: dict[str, Any], provider_key: str,
                                   bodhi: Companion) -> None:
    with sqlite3.connect(db_path(bodhi.home)) as conn:
        rows = conn.execute("SELECT * FROM api_models").fetchall()
    assert rows and all(provider_key not in str(row) for row in rows)
    sealed = [row[3] for row in rows]
    assert all(value.startswith("bodhienc:v1:") for value in sealed)
    for path in db_path(bodhi.home).parent.glob("*.db*"):
        assert provider_key.encode() not in path.read_bytes()


def test_openai_sdk_chat_whole_and_streamed(remote: dict[str, Any], bodhi: Companion,
                                            admin: dict[str, str]) -> None:
    with _sdk(bodhi, admin) as sdk:
        _chat_whole_and_streamed(sdk)


def _chat_whole_and_streamed(sdk: openai.OpenAI) -> None:
    whole = sdk.chat.completions.create(model="remote/" + SMOL, messages=HI,  # type: ignore[arg-type]
                                        max_tokens=8)
    assert whole.model == "remote/" + SMOL
    assert whole.choices[0].message.role == "assistant"
    chunks = list(sdk.chat.completions.create(model="remote/" + SMOL, messages=HI,  # type: ignore[arg-type]
                                              max_tokens=8, stream=True,
                                              stream_options={"include_usage": True}))
    assert chunks and all(c.model == "remote/" + SMOL for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_forward_all_with_prefix_reaches_any_provider_model(remote: dict[str, Any],
                                                            bodhi: Companion,
                                                            admin: dict[str, str]) -> None:
    with _sdk(bodhi, admin) as sdk:
        reply = sdk.chat.completions.create(model="all/" + SMOL, messages=HI,  # type: ignore[arg-type]
                                            max_tokens=4)
    assert reply.model == "all/" + SMOL and reply.choices
    refused = httpx.post(bodhi.url + "/v1/chat/completions", headers=admin, timeout=60,
                         json={"model": "all/no-such-model", "messages": HI})
    assert refused.status_code == 400
    assert "second-bodhi" not in refused.text and "everything" in refused.text


def test_embeddings_through_openai_and_ollama(remote: dict[str, Any], bodhi: Companion,
                                              admin: dict[str, str]) -> None:
    with _sdk(bodhi, admin) as sdk:
        made = sdk.embeddings.create(model="remote/" + SMOL, input="hello")
    assert made.model == "remote/" + SMOL and len(made.data[0].embedding) > 10
    embedded = httpx.post(bodhi.url + "/api/embed", headers=admin, timeout=120,
                          json={"model": "remote/" + SMOL, "input": ["a", "b"]})
    assert embedded.status_code == 200, embedded.text
    assert len(embedded.json()["embeddings"]) == 2


def test_ollama_chat_and_generate(remote: dict[str, Any], bodhi: Companion,
                                  admin: dict[str, str]) -> None:
    with ollama.Client(host=bodhi.url, headers=admin, timeout=120) as client:
        _ollama_chat_and_generate(client)


def _ollama_chat_and_generate(client: ollama.Client) -> None:
    reply = client.chat(model="remote/" + SMOL, messages=HI, options={"num_predict": 8})
    assert reply.message.role == "assistant" and reply.done
    parts = list(client.chat(model="remote/" + SMOL, messages=HI, stream=True,
                             options={"num_predict": 8}))
    assert parts[-1].done and parts[-1].model == "remote/" + SMOL
    generated = client.generate(model="remote/" + SMOL, prompt="Hi", options={"num_predict": 4})
    assert generated.done


def test_responses_and_completions_pass_through_to_an_openai_format_provider(remote: dict[str, Any],
                                                             bodhi: Companion,
                                                             admin: dict[str, str]) -> None:
    reply = httpx.post(bodhi.url + "/v1/responses", headers=admin, timeout=120,
                       json={"model": "remote/" + SMOL, "input": "Say hi.",
                             "max_output_tokens": 8})
    assert reply.status_code == 200, reply.text
    assert reply.json()["object"] == "response"
    completed = httpx.post(bodhi.url + "/v1/completions", headers=admin, timeout=120,
                           json={"model": "remote/" + SMOL, "prompt": "Hi", "max_tokens": 4})
    assert completed.status_code == 200, completed.text
    assert completed.json()["object"] == "text_completion"


def test_listings_show_exposed_names_with_their_source(remote: dict[str, Any],
                                                        bodhi: Companion,
                                                        admin: dict[str, str]) -> None:
    v1 = {m["id"]: m for m in httpx.get(bodhi.url + "/v1/models", headers=admin).json()["data"]}
    assert v1["remote/" + SMOL]["owned_by"] == "openai" and v1[SMOL]["owned_by"] == "system"
    assert not [name for name in v1 if name.startswith("all/")]  # forward-all lists its own
    tags = [m["name"] for m in httpx.get(bodhi.url + "/api/tags", headers=admin).json()["models"]]
    assert "remote/" + SMOL in tags
    ours = httpx.get(bodhi.url + "/bodhi/v1/models?page_size=100", headers=admin).json()["data"]
    entry = next(m for m in ours if m["alias"] == "remote/" + SMOL)
    assert entry == {"alias": "remote/" + SMOL, "source": "api", "api_model_id": "second-bodhi",
                     "api_format": "openai", "model": SMOL}
    one = httpx.get(bodhi.url + "/v1/models/remote/" + SMOL, headers=admin)
    assert one.json()["id"] == "remote/" + SMOL
    shown = httpx.post(bodhi.url + "/api/show", headers=admin, json={"model": "remote/" + SMOL})
    assert shown.status_code == 200 and "completion" in shown.json()["capabilities"]


def test_test_and_fetch_models(remote: dict[str, Any], bodhi: Companion, admin: dict[str, str],
                               provider: Companion, provider_key: str) -> None:
    tried = httpx.post(bodhi.url + API + "/test", headers=admin, timeout=120,
                       json={"id": "second-bodhi", "model": "remote/" + SMOL, "prompt": "Hi"})
    assert tried.status_code == 200, tried.text
    assert tried.json()["ok"] is True and isinstance(tried.json()["reply"], str)
    fetched = httpx.post(bodhi.url + API + "/fetch-models", headers=admin, timeout=30,
                         json={"id": "second-bodhi"})
    assert SMOL in fetched.json()["models"]
    unsaved = httpx.post(bodhi.url + API + "/fetch-models", headers=admin, timeout=30,
                         json={"api_format": "openai", "base_url": provider.url + "/v1",
                               "api_key": provider_key})
    assert SMOL in unsaved.json()["models"]


def test_a_model_limited_token_sees_and_uses_only_its_model(remote: dict[str, Any],
                                                            bodhi: Companion) -> None:
    raw = bodhi.cli("token", "create", "--name", "one-remote", "--scope", "scope_token_user",
                    "--models", "remote/" + SMOL).strip().splitlines()[-1]
    limited = {"Authorization": f"Bearer {raw}"}
    names = [m["id"] for m in httpx.get(bodhi.url + "/v1/models", headers=limited).json()["data"]]
    assert names == ["remote/" + SMOL]
    refusals = []
    for name in ("all/" + SMOL, SMOL, "no-such-model"):
        refused = httpx.post(bodhi.url + "/v1/chat/completions", headers=limited, timeout=30,
                             json={"model": name, "messages": HI})
        refusals.append((refused.status_code, refused.text.replace(name, "<name>")))
    assert refusals[0] == refusals[1] == refusals[2] and refusals[0][0] == 404
    ok = httpx.post(bodhi.url + "/v1/chat/completions", headers=limited, timeout=120,
                    json={"model": "remote/" + SMOL, "messages": HI, "max_tokens": 4})
    assert ok.status_code == 200, ok.text


def test_a_wrong_provider_key_is_401_in_each_family(bodhi: Companion, admin: dict[str, str],
                                                    provider: Companion) -> None:
    _record(bodhi, admin, id="bad-key", api_format="openai", base_url=provider.url + "/v1",
            api_key="wrong-key-abcdefgh", models=["smollm2:135m"], prefix="bad/")
    oai = httpx.post(bodhi.url + "/v1/chat/completions", headers=admin, timeout=30,
                     json={"model": "bad/" + SMOL, "messages": HI})
    assert oai.status_code == 401
    error = oai.json()["error"]
    assert error["code"] == "provider_auth_error"
    assert error["message"].startswith("The provider 'bad-key' refused its API key (HTTP 401)")
    assert "wrong-key" not in oai.text
    oll = httpx.post(bodhi.url + "/api/chat", headers=admin, timeout=30,
                     json={"model": "bad/" + SMOL, "messages": HI})
    assert oll.status_code == 401 and "refused its API key" in oll.json()["error"]
    assert "wrong-key" not in oll.text


def test_a_provider_that_is_down_is_502_in_each_family(bodhi: Companion,
                                                       admin: dict[str, str]) -> None:
    _record(bodhi, admin, id="nobody", api_format="openai",
            base_url=f"http://127.0.0.1:{free_port()}/v1", models=["m"], prefix="down/")
    oai = httpx.post(bodhi.url + "/v1/chat/completions", headers=admin, timeout=30,
                     json={"model": "down/m", "messages": HI})
    assert oai.status_code == 502 and oai.json()["error"]["code"] == "provider_unreachable"
    oll = httpx.post(bodhi.url + "/api/chat", headers=admin, timeout=30,
                     json={"model": "down/m", "messages": HI, "stream": True})
    assert oll.status_code == 502 and "cannot be reached" in oll.json()["error"]


@pytest.fixture(scope="module")
def misbehaving(bodhi: Companion, admin: dict[str, str],
                fake: fake_openai.FakeOpenAI) -> dict[str, Any]:
    return _record(bodhi, admin, id="fake", api_format="openai", base_url=fake.url,
                   api_key=fake_openai.KEY, models=["ok-1", "cut", "garbage", "broken",
                                                    "rate-limited"], prefix="fake/")


def _events(reply: httpx.Response) -> list[str]:
    return [line[6:] for line in reply.text.splitlines() if line.startswith("data: ")]


def test_a_stream_cut_by_the_provider_ends_with_the_family_error_event(
        misbehaving: dict[str, Any], bodhi: Companion, admin: dict[str, str]) -> None:
    oai = httpx.post(bodhi.url + "/v1/chat/completions", headers=admin, timeout=30,
                     json={"model": "fake/cut", "messages": HI, "stream": True})
    events = _events(oai)
    assert oai.status_code == 200
    assert [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:2]] == \
        ["one", " two"]
    assert json.loads(events[-1])["error"]["code"] == "provider_stream_cut"
    oll = httpx.post(bodhi.url + "/api/chat", headers=admin, timeout=30,
                     json={"model": "fake/cut", "messages": HI})
    lines = [json.loads(line) for line in oll.text.splitlines()]
    assert lines[0]["message"]["content"] == "one" and "error" in lines[-1]
    with _sdk(bodhi, admin) as sdk, pytest.raises(openai.APIError):
        list(sdk.chat.completions.create(model="fake/cut", messages=HI,  # type: ignore[arg-type]
                                         stream=True))


def test_a_malformed_provider_reply_is_502_with_the_reason(
        misbehaving: dict[str, Any], bodhi: Companion, admin: dict[str, str]) -> None:
    reply = httpx.post(bodhi.url + "/v1/chat/completions", headers=admin, timeout=30,
                       json={"model": "fake/garbage", "messages": HI})
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert error["code"] == "provider_reply_malformed" and "'choices'" in error["message"]


def test_provider_refusals_keep_their_meaning(misbehaving: dict[str, Any], bodhi: Companion,
                                              admin: dict[str, str]) -> None:
    limited = httpx.post(bodhi.url + "/v1/chat/completions", headers=admin, timeout=30,
                         json={"model": "fake/rate-limited", "messages": HI})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    broken = httpx.post(bodhi.url + "/api/chat", headers=admin, timeout=30,
                        json={"model": "fake/broken", "messages": HI})
    assert broken.status_code == 502 and "HTTP 500" in broken.json()["error"]


def test_an_edit_is_tried_with_the_stored_key_before_saving(
        misbehaving: dict[str, Any], bodhi: Companion, admin: dict[str, str],
        fake: fake_openai.FakeOpenAI) -> None:
    # The record's id with unsaved fields: the fields as given, the key from the record.
    edited = {"id": "fake", "api_format": "openai", "base_url": fake.url + "/",
              "extra_headers": {"X-Try": "1"}}
    fetched = httpx.post(bodhi.url + API + "/fetch-models", headers=admin, timeout=30,
                         json=edited)
    assert fetched.status_code == 200, fetched.text
    assert "ok-2" in fetched.json()["models"]
    tried = httpx.post(bodhi.url + API + "/test", headers=admin, timeout=30,
                       json={**edited, "model": "ok-2"})
    assert tried.json() == {"ok": True, "reply": "hi from ok-2"}
    # A new key given with the id is the one used.
    wrong = httpx.post(bodhi.url + API + "/test", headers=admin, timeout=30,
                       json={**edited, "api_key": "wrong-key-abcdefgh", "model": "ok-2"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "provider_auth_error"


@pytest.mark.parametrize(("fields", "status", "param"), [
    ({"api_format": "cohere"}, 400, "api_format"),
    ({"base_url": "ftp://example.com/v1"}, 400, "base_url"),
    ({"models": [SMOL], "prefix": None}, 409, "models"),
    ({"forward_all_with_prefix": True, "prefix": None, "models": []}, 400, "prefix"),
])
def test_bad_records_are_refused(bodhi: Companion, admin: dict[str, str], fields: dict[str, Any],
                                 status: int, param: str) -> None:
    body = {"api_format": "openai", "base_url": "http://127.0.0.1:9/v1", "models": ["x-1"],
            "prefix": "bad-input/", **fields}
    refused = httpx.post(bodhi.url + API, headers=admin, json=body)
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["param"] == param


def test_a_plain_user_cannot_manage_api_models(bodhi: Companion) -> None:
    raw = bodhi.cli("token", "create", "--name", "plain", "--scope",
                    "scope_token_user").strip().splitlines()[-1]
    user = {"Authorization": f"Bearer {raw}"}
    assert httpx.get(bodhi.url + API, headers=user).status_code == 403
    assert httpx.post(bodhi.url + API, headers=user, json={}).status_code == 403


def test_put_keeps_or_clears_the_key(bodhi: Companion, admin: dict[str, str]) -> None:
    body = {"api_format": "openai", "base_url": "http://127.0.0.1:9/v1", "models": ["k"],
            "prefix": "keys/"}
    made = _record(bodhi, admin, **body, api_key="short")
    assert made["has_api_key"] is True and made["api_key_hint"] is None
    url = f"{bodhi.url}{API}/{made['id']}"
    kept = httpx.put(url, headers=admin, json={**body, "models": ["k", "l"]}).json()
    assert kept["has_api_key"] is True and kept["models"] == ["k", "l"]
    cleared = httpx.put(url, headers=admin, json={**body, "api_key": None}).json()
    assert cleared["has_api_key"] is False
    assert httpx.delete(url, headers=admin).status_code == 204
    assert httpx.get(url, headers=admin).status_code == 404


def test_the_cli_adds_lists_and_removes_with_the_key_from_stdin(
        bodhi: Companion, provider: Companion, provider_key: str) -> None:
    def run(*args: str, stdin: str = "", command: str = "api-models") -> str:
        done = subprocess.run([sys.executable, "-m", "companion", command, *args],
                              env=bodhi.env, input=stdin.encode(), capture_output=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        assert provider_key not in (done.stdout + done.stderr).decode()
        return done.stdout.decode()

    added = run("add", "from-cli", "--base-url", provider.url + "/v1", "--model", SMOL,
                "--prefix", "cli/", "--key", stdin=provider_key + "\n")
    assert "cli/" + SMOL in added
    listed = run("list")
    line = next(x for x in listed.splitlines() if x.startswith("from-cli"))
    assert "…" + provider_key[-4:] in line
    # ``bodhi models`` shows it beside the local models, with what serves it.
    remote = run(command="models").split("REMOTE", 1)[1]
    assert any(row.split()[:2] == ["cli/" + SMOL, "api"]
               and row.endswith(f"from-cli (openai): {SMOL}") for row in remote.splitlines())
    assert "Removed" in run("remove", "from-cli")
    assert "from-cli" not in run("list")


def test_no_key_in_logs_or_output(remote: dict[str, Any], misbehaving: dict[str, Any],
                                  bodhi: CapturedCompanion, provider_key: str) -> None:
    """Last in this module: every call above has been logged by now."""
    texts = [p.read_text(errors="replace") for p in (bodhi.home / "logs").rglob("*")
             if p.is_file()]
    texts.append(Path(bodhi.out).read_text(errors="replace"))
    assert "provider bad-key refused a call: HTTP 401" in "".join(texts)  # it was logged
    for secret in (provider_key, fake_openai.KEY, "wrong-key-abcdefgh"):
        assert all(secret not in text for text in texts)

