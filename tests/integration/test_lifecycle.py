"""llama.cpp children: one per alias, idle unload, crash recovery, no orphans."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
from pathlib import Path

import httpx
import openai
import psutil
import pytest

from tests.conftest import Companion, alive, running_companion, wait_until

MODEL = "smollm2:135m"
HELLO = [{"role": "user", "content": "Tell me a long story about a dragon."}]


def _sdk(companion: Companion, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=companion.url + "/v1", api_key=token, max_retries=0)


def _chat(companion: Companion, token: str, max_tokens: int = 2) -> None:
    with _sdk(companion, token) as sdk:
        reply = sdk.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=max_tokens)
    assert reply.choices[0].message.content is not None


def _child_port(child: psutil.Process) -> int:
    args = child.cmdline()
    return int(args[args.index("--port") + 1])


def _child_key(child: psutil.Process) -> dict[str, str]:
    """The child's API key, from its environment (readable by the same OS user only)."""
    return {"Authorization": f"Bearer {child.environ()['LLAMA_API_KEY']}"}


def test_concurrent_first_requests_start_one_child(tmp_path: Path) -> None:
    with running_companion(tmp_path) as companion:
        token = companion.create_token()
        assert companion.children() == []
        errors: list[BaseException] = []

        def call() -> None:
            try:
                _chat(companion, token)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(companion.children()) == 1
        assert companion.log_text().count("starting model smollm2:135m") == 1


def test_keep_alive_unloads_an_idle_child(tmp_path: Path) -> None:
    with running_companion(tmp_path, BODHI_KEEP_ALIVE_SECS="1") as companion:
        token = companion.create_token()
        _chat(companion, token)
        (child,) = companion.children()
        assert wait_until(lambda: not alive([child.pid]), timeout=6)
        assert "unloading model smollm2:135m" in companion.log_text()
        _chat(companion, token)  # loads again on demand
        assert len(companion.children()) == 1


def test_killed_child_fails_the_stream_and_the_next_request_recovers(tmp_path: Path) -> None:
    with running_companion(tmp_path) as companion:
        token = companion.create_token()
        _chat(companion, token)
        (child,) = companion.children()
        received = 0
        with _sdk(companion, token) as sdk, pytest.raises(openai.APIError) as err:
            stream = sdk.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2000,
                                                 stream=True)
            for _ in stream:
                received += 1
                if received == 2:
                    child.kill()
        assert received >= 2
        assert "stopped while answering" in str(err.value)
        _chat(companion, token)
        (new_child,) = companion.children()
        assert new_child.pid != child.pid


# A first child that is healthy, then drops the first request it gets and exits, as a
# child killed between two requests looks to the companion; later starts run the real one.
_DYING_CHILD = """
import http.server, os, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"{}")
    def do_POST(self):
        self.connection.close(); os._exit(1)
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def test_a_child_that_died_before_answering_is_restarted_for_the_same_request(
        tmp_path: Path) -> None:
    first_start = tmp_path / "first-start-done"
    wrapper = tmp_path / "llama-server"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"if [ ! -e {first_start} ]; then touch {first_start}; "
        f"exec {sys.executable} -c '{_DYING_CHILD}' \"$@\"; fi\n"
        f"exec {sys.executable} -m companion.inference.launcher \"$@\"\n")
    wrapper.chmod(0o755)
    with running_companion(tmp_path, BODHI_LLAMA_SERVER=str(wrapper)) as companion:
        token = companion.create_token()
        _chat(companion, token)  # no 502: the request went to a fresh child
        assert companion.log_text().count("starting model smollm2:135m") == 2


def test_client_disconnect_stops_the_generation(tmp_path: Path) -> None:
    with running_companion(tmp_path) as companion:
        token = companion.create_token()
        _chat(companion, token)
        (child,) = companion.children()
        slots_url = f"http://127.0.0.1:{_child_port(child)}/slots"
        body = {"model": MODEL, "messages": HELLO, "max_tokens": 4000, "stream": True}
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("POST", companion.url + "/v1/chat/completions", json=body,
                          headers=headers, timeout=30) as reply:
            lines = reply.iter_lines()
            assert next(line for line in lines if line.startswith("data:"))

            def busy() -> bool:
                slots = httpx.get(slots_url, headers=_child_key(child)).json()
                return any(s["is_processing"] for s in slots)

            assert busy()
        # Leaving the block closed our connection; the child must stop generating.
        assert wait_until(lambda: not busy(), timeout=5)


def test_sigterm_stops_every_child(tmp_path: Path) -> None:
    with running_companion(tmp_path) as companion:
        token = companion.create_token()
        _chat(companion, token)
        with _sdk(companion, token) as sdk:
            sdk.embeddings.create(model=MODEL, input="x")
        pids = [c.pid for c in companion.children()]
        assert pids
        assert companion.stop(signal.SIGTERM) == 0
        assert alive(pids) == []
        # The token's last use was written out on the way down.
        (row,) = companion.cli("token", "list").splitlines()[1:]
        assert re.search(r"active\s+\S+ \S+\s+\d{4}-\d\d-\d\d \d\d:\d\d$", row), row


def test_kill_9_of_the_companion_leaves_no_child(tmp_path: Path) -> None:
    with running_companion(tmp_path) as companion:
        token = companion.create_token()
        _chat(companion, token)
        pids = [c.pid for c in companion.children()]
        assert pids
        companion.stop(signal.SIGKILL)
        assert wait_until(lambda: not alive(pids), timeout=10), alive(pids)


def test_configured_llama_server_executable_is_used(tmp_path: Path) -> None:
    """BODHI_LLAMA_SERVER runs another executable with the same llama-server flags."""
    record = tmp_path / "argv.json"
    wrapper = tmp_path / "llama-server"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"{sys.executable} -c 'import json,sys; json.dump(sys.argv[1:], "
        f"open(\"{record}\", \"w\"))' \"$@\"\n"
        f"exec {sys.executable} -m companion.inference.launcher \"$@\"\n")
    wrapper.chmod(0o755)
    with running_companion(tmp_path, BODHI_LLAMA_SERVER=str(wrapper),
                           BODHI_LLAMACPP_ARGS="--ctx-size 1024") as companion:
        token = companion.create_token()
        _chat(companion, token)
        argv = json.loads(record.read_text())
        assert argv[argv.index("--alias") + 1] == MODEL
        assert argv[argv.index("--ctx-size") + 1] == "1024"
        assert "--model" in argv and "--port" in argv and "--host" in argv


def test_a_model_that_cannot_start_gives_a_clear_error(tmp_path: Path) -> None:
    with running_companion(tmp_path, BODHI_LLAMACPP_ARGS="--no-such-flag") as companion:
        token = companion.create_token()
        with pytest.raises(openai.APIStatusError) as err:
            _chat(companion, token)
        assert err.value.status_code == 503
        assert "--no-such-flag" in str(err.value)
        assert httpx.get(companion.url + "/ping").status_code == 200


def test_logs_never_contain_tokens(tmp_path: Path) -> None:
    with running_companion(tmp_path) as companion:
        token = companion.create_token()
        _chat(companion, token)
        httpx.get(companion.url + "/v1/models?key=" + token,
                  headers={"Authorization": "Bearer " + token + "x"})
        logs = "".join(p.read_text(errors="replace")
                       for p in (companion.home / "logs").iterdir())
        assert token not in logs
        assert token[len("bodhiapp_"):][:20] not in logs
        assert re.search(r"POST /v1/chat/completions 200", logs)
        assert os.stat(companion.home / "owner.secret").st_mode & 0o777 == 0o600


def test_a_child_answers_only_the_companion(tmp_path: Path, model_path: Path) -> None:
    """What a page scanning loopback ports (or another OS user) gets from a model child."""
    with running_companion(tmp_path, BODHI_LLAMACPP_ARGS="--host 0.0.0.0") as companion:
        token = companion.create_token()
        _chat(companion, token)
        (child,) = companion.children()
        base = f"http://127.0.0.1:{_child_port(child)}"
        page = {"Origin": "http://evil.example"}
        chat = httpx.post(base + "/v1/chat/completions", headers=page,
                          json={"messages": HELLO, "max_tokens": 2})
        assert chat.status_code == 401
        for path in ("/props", "/slots", "/metrics", "/v1/models", "/models", "/api/tags"):
            refused = httpx.get(base + path, headers=page)
            assert refused.status_code == 401, path
            assert str(model_path) not in refused.text
        # /health stays public, but no browser origin may read it (or anything else).
        health = httpx.get(base + "/health", headers=page)
        assert health.status_code == 200
        assert health.headers.get("access-control-allow-origin", "") == ""
        preflight = httpx.options(base + "/v1/chat/completions", headers={
            **page, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization"})
        assert preflight.headers.get("access-control-allow-origin", "") == ""
        # Loopback only, although the admin's flags asked for every address.
        listening = {c.laddr.ip for c in child.net_connections("inet")
                     if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}

        # The key is in the child's environment, never on its command line or in a log.
        key = _child_key(child)
        raw_key = key["Authorization"].removeprefix("Bearer ")
        assert len(raw_key) >= 32
        assert raw_key not in " ".join(child.cmdline())
        logs = "".join(p.read_text(errors="replace")
                       for p in (companion.home / "logs").iterdir())
        assert raw_key not in logs
        assert httpx.get(base + "/props", headers=key).status_code == 200
        _chat(companion, token)  # the companion sends it on every request it relays

        child.kill()
        assert wait_until(lambda: not alive([child.pid]), timeout=10)
        _chat(companion, token)
        (restarted,) = companion.children()
        assert _child_key(restarted) != key  # a fresh key for every start
