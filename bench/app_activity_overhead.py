"""Cost of the apps' activity record: req/s and companion CPU per request of an app token's
``GET /v1/models`` with the record on (``BODHI_APP_ACTIVITY_PER_GRANT=1000``, the default)
against off (``0``), on two companions started side by side, measured in alternating rounds.

    .venv/bin/python bench/app_activity_overhead.py [--seconds 5] [--rounds 3] [--concurrency 8]

Each companion gets a temporary BODHI_HOME; an app token comes from the real flow (pairing code,
access request, approval with the extension credential, exchange). Recording queues an entry in
memory and a batch is written every 10 s, so the ratio should stay close to 1. The last line is
``activity_req_per_s_ratio=<on/off>`` (medians over the rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import psutil
from auth_overhead import Rate, _free_port, _rate, _start  # the same harness, same numbers


def _cli(home: Path, port: int, *args: str) -> str:
    env = {**os.environ, "BODHI_HOME": str(home), "BODHI_PORT": str(port)}
    done = subprocess.run([sys.executable, "-m", "companion", *args], env=env,
                          capture_output=True, check=True, timeout=60)
    return done.stdout.decode().strip().splitlines()[-1]


def _app_token(home: Path, port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    code = _cli(home, port, "pair")
    paired = httpx.post(base + "/bodhi/v1/apps/extension/pair", json={"code": code}).json()
    with httpx.Client(base_url=base, timeout=30,
                      headers={"Authorization": f"Bearer {paired['credential']}"}) as ext:
        opened = ext.post("/bodhi/v1/apps/request-access", json={
            "origin": "http://127.0.0.1:9001", "requested": {"scopes": ["models"]}}).json()
        ext.post(f"/bodhi/v1/apps/access-requests/{opened['id']}/approve",
                 json={"scopes": ["models"], "models": None}).raise_for_status()
        tokens = ext.post("/bodhi/v1/apps/token", json={"grant_type": "access_request",
                                                       "request_id": opened["id"]})
        tokens.raise_for_status()
        return str(tokens.json()["access_token"])


def _companion(tmp: Path, name: str, keep: str) -> tuple[subprocess.Popen[bytes], int, str]:
    home, port = tmp / name, _free_port()
    os.environ["BODHI_APP_ACTIVITY_PER_GRANT"] = keep
    try:
        proc = _start(home, port)
    finally:
        del os.environ["BODHI_APP_ACTIVITY_PER_GRANT"]
    return proc, port, _app_token(home, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rates: dict[str, list[Rate]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-") as tmp:
        started = {name: _companion(Path(tmp), name, keep)
                   for name, keep in (("on", "1000"), ("off", "0"))}
        try:
            for _ in range(args.rounds):
                for name, (proc, port, token) in started.items():
                    rates[name].append(asyncio.run(_rate(
                        psutil.Process(proc.pid), f"http://127.0.0.1:{port}/v1/models",
                        {"Authorization": f"Bearer {token}"}, args.seconds, args.concurrency)))
        finally:
            for proc, _, _ in started.values():
                proc.terminate()
                proc.wait(20)
    per_s = {name: statistics.median(r.per_s for r in found) for name, found in rates.items()}
    cpu = {name: statistics.median(r.cpu_us for r in found) for name, found in rates.items()}
    for name in ("on", "off"):
        print(f"record {name}: {per_s[name]:.0f} req/s, {cpu[name]:.0f} us companion CPU "
              "per request")
    print(f"activity_cpu_us={cpu['on'] - cpu['off']:.0f}")
    print(f"activity_req_per_s_ratio={per_s['on'] / per_s['off']:.3f}")


if __name__ == "__main__":
    main()
