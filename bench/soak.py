"""Soak: does the companion grow over many mixed requests? RSS, open files, asyncio tasks.

    .venv/bin/python bench/soak.py [--requests 10000] [--concurrency 8] [--warmup 1000]

Starts ``python -m companion serve`` with a temporary ``BODHI_HOME`` and ``HF_HOME`` (the
embedded SmolLM2 model, kept loaded: ``BODHI_KEEP_ALIVE_SECS=-1``) and makes a power-user token
with ``bodhi token create``. Then it sends ``--warmup`` requests, and ``--requests`` more, from
``--concurrency`` workers over keep-alive connections, cycling through a fixed mix of 19:
``GET /v1/models``, ``/ping``, ``/bodhi/v1/info`` and Ollama ``/api/tags`` 3 times each, a
chat naming an unknown model (404, a new name each time) twice, ``/v1/models`` without a
credential (401) and with a wrong token (401, a new one each time), and once each a chat
completion with ``max_tokens`` 1, the same streamed, and Ollama ``/api/chat`` (the three
that run the model take most of the time).

The companion process (not its llama.cpp child) is sampled three times: after start, after the
warm-up and at the end. Before each sample the client's connections are closed and it waits
``--settle`` seconds (longer than the companion's 4 s keep-alive to its child), so pooled
connections do not count as growth. A sample is the RSS (psutil), the open file descriptors
and TCP connections, and ``bodhi_asyncio_tasks`` from ``/metrics``. Growth is end minus
warm-up; the goal is RSS < 5 MB over 10,000 requests and no growth in files or tasks. The last
lines are machine-readable.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil

MODEL = "smollm2:135m"
HI = [{"role": "user", "content": "Hi"}]


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    auth: bool = True
    expect: int = 200
    vary: bool = False  # a new model name or token each time: no per-value state may pile up


_CALLS = {
    "models": Call("models", "GET", "/v1/models"),
    "ping": Call("ping", "GET", "/ping", auth=False),
    "info": Call("info", "GET", "/bodhi/v1/info"),
    "chat": Call("chat", "POST", "/v1/chat/completions",
                 {"model": MODEL, "max_tokens": 1, "messages": HI}),
    "chat_stream": Call("chat_stream", "POST", "/v1/chat/completions",
                        {"model": MODEL, "max_tokens": 1, "stream": True, "messages": HI}),
    "ollama_tags": Call("ollama_tags", "GET", "/api/tags"),
    "ollama_chat": Call("ollama_chat", "POST", "/api/chat",
                        {"model": MODEL, "stream": False, "options": {"num_predict": 1},
                         "messages": HI}),
    "unknown_model": Call("unknown_model", "POST", "/v1/chat/completions",
                          {"model": "no-such-model", "max_tokens": 1, "messages": HI},
                          expect=404, vary=True),
    "no_token": Call("no_token", "GET", "/v1/models", auth=False, expect=401),
    "bad_token": Call("bad_token", "GET", "/v1/models", expect=401, vary=True),
}
# One cycle of the mix: 3 of its 19 requests run the model (they take most of the time).
MIX = [_CALLS[name] for name in (
    "models", "ping", "info", "ollama_tags", "chat", "no_token", "unknown_model",
    "models", "ping", "info", "ollama_tags", "chat_stream", "bad_token", "unknown_model",
    "models", "ping", "info", "ollama_tags", "ollama_chat")]


@dataclass(frozen=True)
class Sample:
    rss_mb: float
    fds: int
    connections: int
    tasks: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "companion", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the companion did not start")


def _token(env: dict[str, str]) -> str:
    made = subprocess.run([sys.executable, "-m", "companion", "token", "create", "--name",
                           "soak", "--scope", "scope_token_power_user"], env=env,
                          capture_output=True, check=True, timeout=60)
    return made.stdout.decode().strip().splitlines()[-1]


async def _tasks(base: str, token: str) -> float:
    async with aiohttp.ClientSession() as client, \
            client.get(base + "/metrics", headers={"Authorization": f"Bearer {token}"}) as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith("bodhi_asyncio_tasks "):
            return float(line.split()[1])
    raise SystemExit("no bodhi_asyncio_tasks in /metrics")


async def _sample(proc: psutil.Process, base: str, token: str, settle: float) -> Sample:
    await asyncio.sleep(settle)
    tasks = await _tasks(base, token)
    await asyncio.sleep(0.2)  # the scrape's own connection closes
    return Sample(proc.memory_info().rss / 2**20, proc.num_fds(),
                  len(proc.net_connections(kind="tcp")), tasks)


async def _one(client: aiohttp.ClientSession, base: str, token: str, call: Call,
               n: int) -> bool:
    body = call.body
    if call.vary and body is not None:
        body = {**body, "model": f"{body['model']}-{n}"}
    elif call.vary:
        token = f"bodhiapp_soak{n:012d}"
    headers = {"Authorization": f"Bearer {token}"} if call.auth else {}
    async with client.request(call.method, base + call.path, headers=headers,
                              json=body) as reply:
        await reply.read()
        return reply.status == call.expect


async def _load(base: str, token: str, count: int, concurrency: int,
                failed: collections.Counter[str]) -> float:
    """Send ``count`` requests of the mix; the seconds it took."""
    calls = [MIX[i % len(MIX)] for i in range(count)]
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=300)) as client:
        async def worker(first: int) -> None:
            for n in range(first, count, concurrency):
                call = calls[n]
                try:
                    ok = await _one(client, base, token, call, n)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if not ok:
                    failed[call.name] += 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return time.perf_counter() - started


async def _soak(args: argparse.Namespace, proc: psutil.Process, base: str, token: str
                ) -> tuple[list[Sample], float, collections.Counter[str]]:
    failed: collections.Counter[str] = collections.Counter()
    samples = [await _sample(proc, base, token, 0.5)]
    await _load(base, token, args.warmup, args.concurrency, failed)
    samples.append(await _sample(proc, base, token, args.settle))
    seconds = await _load(base, token, args.requests, args.concurrency, failed)
    samples.append(await _sample(proc, base, token, args.settle))
    return samples, seconds, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds to wait before each sample")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bodhi-soak-") as tmp:
        port = _free_port()
        env = {**os.environ, "BODHI_HOME": str(Path(tmp) / "bodhi"),
               "HF_HOME": str(Path(tmp) / "hf"), "BODHI_PORT": str(port),
               "BODHI_LOG_LEVEL": "warning", "BODHI_KEEP_ALIVE_SECS": "-1"}
        proc = _start(env, port)
        try:
            token = _token(env)
            samples, seconds, failed = asyncio.run(
                _soak(args, psutil.Process(proc.pid), f"http://127.0.0.1:{port}", token))
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"{args.requests} requests after {args.warmup} of warm-up, concurrency "
          f"{args.concurrency}: {args.requests / seconds:.0f} req/s; unexpected answers: "
          f"{dict(failed) or 'none'}")
    print(f"{'':10} {'RSS MB':>8} {'fds':>6} {'tcp':>6} {'tasks':>6}")
    for label, s in zip(("start", "warm", "end"), samples, strict=True):
        print(f"{label:10} {s.rss_mb:8.1f} {s.fds:6d} {s.connections:6d} {s.tasks:6.0f}")
    warm, end = samples[1], samples[2]
    print(f"failed_requests={sum(failed.values())}")
    print(f"rss_growth_mb={end.rss_mb - warm.rss_mb:.1f}")
    print(f"fds_growth={end.fds - warm.fds}")
    print(f"connections_growth={end.connections - warm.connections}")
    print(f"tasks_growth={end.tasks - warm.tasks:.0f}")


if __name__ == "__main__":
    main()
