"""Cost of authentication: req/s of token-authenticated ``GET /v1/models`` against
``GET /ping`` on the same companion, in the same run.

    .venv/bin/python bench/auth_overhead.py [--seconds 5] [--concurrency 8]

Starts ``bodhi serve`` on a free loopback port with a temporary BODHI_HOME, creates a token
with the CLI, warms both routes, then measures each for the same time with the same number of
concurrent keep-alive connections. The last line is ``auth_req_per_s_ratio=<models/ping>``.
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
from pathlib import Path

import httpx


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


async def _rate(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> float:
    async with httpx.AsyncClient(headers=headers, timeout=30,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        for _ in range(50):  # warm up: connections, caches
            (await client.get(url)).raise_for_status()
        count = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                (await client.get(url)).raise_for_status()
                count += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


async def _measure(base: str, token: str, seconds: float, concurrency: int
                   ) -> tuple[float, float]:
    ping = await _rate(base + "/ping", {}, seconds, concurrency)
    models = await _rate(base + "/v1/models", {"Authorization": f"Bearer {token}"}, seconds,
                         concurrency)
    return ping, models


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
            ping, models = asyncio.run(_measure(f"http://127.0.0.1:{port}", token,
                                                args.seconds, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"ping_req_per_s={ping:.0f}")
    print(f"auth_models_req_per_s={models:.0f}")
    print(f"auth_req_per_s_ratio={models / ping:.3f}")


if __name__ == "__main__":
    main()
