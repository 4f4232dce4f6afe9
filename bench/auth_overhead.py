"""Cost of authentication: req/s of token-authenticated ``GET /v1/models`` against
``GET /ping`` on the same companion, in the same run.

    .venv/bin/python bench/auth_overhead.py [--seconds 5] [--concurrency 8]

Starts ``bodhi serve`` on a free loopback port with a temporary BODHI_HOME, creates a token
with the CLI, warms both routes, then measures each for the same time with the same number of
concurrent keep-alive connections, with aiohttp's client (lighter than httpx, so the server
rather than the client is what saturates). Besides req/s it reports the companion process's
CPU time per request (user + system, from psutil), which does not depend on how fast the client
is: ``/ping`` (no auth), ``/bodhi/v1/info`` without and with the token (the same handler, so the
difference is the cost of checking a token), and ``/v1/models`` with the token. The last line is
``auth_req_per_s_ratio=<models/ping>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import psutil


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BODHI_HOME": str(home), "HF_HOME": str(home / "hf"),
           "BODHI_PORT": str(port), "BODHI_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "companion", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the companion did not start")


def _token(home: Path, port: int) -> str:
    env = {**os.environ, "BODHI_HOME": str(home), "BODHI_PORT": str(port)}
    done = subprocess.run([sys.executable, "-m", "companion", "token", "create", "--name",
                           "bench"], env=env, capture_output=True, check=True, timeout=60)
    return done.stdout.decode().strip().splitlines()[-1]


@dataclass(frozen=True)
class Rate:
    per_s: float
    cpu_us: float  # companion CPU time per request


async def _rate(server: psutil.Process, url: str, headers: dict[str, str], seconds: float,
                concurrency: int) -> Rate:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as client:
        for _ in range(50):  # warm up: connections, caches
            async with client.get(url) as reply:
                reply.raise_for_status()
        count = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                async with client.get(url) as reply:
                    reply.raise_for_status()
                    await reply.read()
                count += 1

        cpu, started = server.cpu_times(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, used = time.perf_counter() - started, server.cpu_times()
        cpu_s = (used.user - cpu.user) + (used.system - cpu.system)
        return Rate(count / elapsed, cpu_s / max(count, 1) * 1e6)


async def _measure(server: psutil.Process, base: str, token: str, seconds: float,
                   concurrency: int) -> dict[str, Rate]:
    bearer = {"Authorization": f"Bearer {token}"}
    targets = {"ping": ("/ping", {}), "info_anonymous": ("/bodhi/v1/info", {}),
               "info_token": ("/bodhi/v1/info", bearer), "models_token": ("/v1/models", bearer)}
    return {name: await _rate(server, base + path, headers, seconds, concurrency)
            for name, (path, headers) in targets.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-") as tmp:
        home, port = Path(tmp), _free_port()
        proc = _start(home, port)
        try:
            token = _token(home, port)
            rates = asyncio.run(_measure(psutil.Process(proc.pid), f"http://127.0.0.1:{port}",
                                         token, args.seconds, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(20)
    for name, rate in rates.items():
        print(f"{name}: {rate.per_s:.0f} req/s, {rate.cpu_us:.0f} us companion CPU per request")
    token_cost = rates["info_token"].cpu_us - rates["info_anonymous"].cpu_us
    print(f"token_check_cpu_us={token_cost:.0f}")
    print(f"ping_req_per_s={rates['ping'].per_s:.0f}")
    print(f"auth_models_req_per_s={rates['models_token'].per_s:.0f}")
    print(f"auth_req_per_s_ratio={rates['models_token'].per_s / rates['ping'].per_s:.3f}")


if __name__ == "__main__":
    main()
