"""Start-up time and idle memory of ``bodhi serve``, against a bare aiohttp server, same run.

    .venv/bin/python bench/startup.py [--rounds 7]

Round by round, alternating, it starts and stops:

- ``python -c pass`` (the interpreter alone);
- a bare aiohttp server answering ``/ping`` (the floor for any aiohttp server in Python);
- ``python -m companion serve`` with a fresh ``BODHI_HOME`` (first start: the database is
  created, the keys are made);
- ``python -m companion serve`` again on that home (a restart: everything already exists).

Every process runs without ``PYTHONDONTWRITEBYTECODE``, as a user's Python does: the
companion's bytecode is cached by the first (uncounted) round, instead of every start compiling
its modules again. Each start is timed from ``Popen`` to its first ``/ping`` answer (polled
every 5 ms over a raw socket, so the client costs nothing). After the fresh start's first
answer it waits ``--settle`` seconds and reads the companion's RSS (psutil), makes an API
token with ``bodhi token create``, sends one authenticated ``GET /v1/models`` and reads the
RSS again. ``--compare DIR`` also measures the companion from another source tree (say an
older commit, ``git archive REV | tar -x -C DIR``) in the same rounds. Medians; the last
lines are machine-readable.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

BARE_AIOHTTP = """
import sys
from aiohttp import web
async def ping(_):
    return web.json_response({"message": "pong"})
app = web.Application()
app.router.add_get("/ping", ping)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, token: str | None = None) -> int | None:
    """The status of one GET, or None when nothing answers yet."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
                         "Connection: close\r\n\r\n".encode())
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                head += chunk
            return int(head.split(b" ", 2)[1])
    except OSError:
        return None


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    seconds: float

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def rss_mb(self) -> float:
        return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20


def _start(argv: list[str], env: dict[str, str], port: int, cwd: str | None = None) -> Server:
    """``cwd``: not this checkout, whose ``companion`` would come first on ``sys.path``."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=cwd)
    deadline = started + 60
    while time.perf_counter() < deadline and proc.poll() is None:
        if _get(port, "/ping") == 200:
            return Server(proc, port, time.perf_counter() - started)
        time.sleep(0.005)
    proc.kill()
    raise SystemExit(f"{argv} did not answer /ping (exit {proc.poll()})")


def _companion_env(home: Path, port: int, src: str | None) -> dict[str, str]:
    found = {"PYTHONPATH": src} if src else {}
    return {**_base_env(), **found, "BODHI_HOME": str(home / "bodhi"), "HF_HOME": str(home / "hf"),
            "BODHI_PORT": str(port), "BODHI_LOG_LEVEL": "warning"}


def _token(env: dict[str, str], cwd: str) -> str:
    made = subprocess.run([sys.executable, "-m", "companion", "token", "create", "--name",
                           "bench"], env=env, capture_output=True, check=True, timeout=60,
                          cwd=cwd)
    return made.stdout.decode().strip().splitlines()[-1]


@dataclass
class Companion:
    fresh: float
    restart: float
    idle_rss: float
    request_rss: float


@dataclass
class Round:
    python: float
    bare: float
    bare_rss: float
    this: Companion
    other: Companion | None


def _time(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _companion(settle: float, src: str | None = None) -> Companion:
    """Fresh start, idle RSS, RSS after one authenticated request, restart."""
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-") as tmp:
        port = _free_port()
        env = _companion_env(Path(tmp), port, src)
        argv = [sys.executable, "-m", "companion", "serve"]
        server = _start(argv, env, port, tmp)
        try:
            time.sleep(settle)
            idle = server.rss_mb()
            token = _token(env, tmp)
            if _get(port, "/v1/models", token) != 200:
                raise SystemExit("GET /v1/models with the token failed")
            time.sleep(settle)
            after = server.rss_mb()
        finally:
            server.stop()
        again = _start(argv, env, port, tmp)
        again.stop()
        return Companion(server.seconds, again.seconds, idle, after)


def _round(settle: float, compare: str | None) -> Round:
    python = _time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True,
                                          env=_base_env()))
    port = _free_port()
    bare = _start([sys.executable, "-c", BARE_AIOHTTP, str(port)], _base_env(), port)
    time.sleep(settle)
    bare_rss = bare.rss_mb()
    bare.stop()
    other = _companion(settle, compare) if compare else None
    return Round(python, bare.seconds, bare_rss, _companion(settle), other)


def _row(label: str, values: list[float]) -> None:
    print(f"{label:38} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")


def _companion_rows(label: str, runs: list[Companion]) -> None:
    for what, field in [("fresh home to /ping (s)", "fresh"),
                        ("restart to /ping (s)", "restart"), ("idle RSS (MB)", "idle_rss"),
                        ("RSS after a request (MB)", "request_rss")]:
        _row(f"{label} {what}", [getattr(run, field) for run in runs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds to wait before reading the RSS")
    parser.add_argument("--compare", metavar="DIR",
                        help="also measure the companion from this source tree")
    args = parser.parse_args()
    _round(0.1, args.compare)  # warm the file cache and the bytecode; not counted
    rounds = [_round(args.settle, args.compare) for _ in range(args.rounds)]
    this = [r.this for r in rounds]

    def med(runs: list[Companion], field: str) -> float:
        return statistics.median(getattr(run, field) for run in runs)

    print(f"{'':38} {'median':>8} {'min':>8} {'max':>8}")
    _row("python -c pass (s)", [r.python for r in rounds])
    _row("bare aiohttp to /ping (s)", [r.bare for r in rounds])
    _row("bare aiohttp RSS (MB)", [r.bare_rss for r in rounds])
    _companion_rows("companion", this)
    others = [r.other for r in rounds if r.other is not None]
    if others:
        _companion_rows("compared", others)
    bare = statistics.median(r.bare for r in rounds)
    print(f"start_to_ping_s={med(this, 'fresh'):.3f}")
    print(f"restart_to_ping_s={med(this, 'restart'):.3f}")
    print(f"bare_aiohttp_to_ping_s={bare:.3f}")
    print(f"python_s={statistics.median(r.python for r in rounds):.3f}")
    print(f"idle_rss_mb={med(this, 'idle_rss'):.1f}")
    print(f"rss_after_request_mb={med(this, 'request_rss'):.1f}")
    if others:
        print(f"compared_start_to_ping_s={med(others, 'fresh'):.3f}")
        print(f"compared_idle_rss_mb={med(others, 'idle_rss'):.1f}")
        print(f"start_vs_compared_ratio={med(this, 'fresh') / med(others, 'fresh'):.2f}")
    print(f"start_ratio={med(this, 'fresh') / bare:.2f}")


if __name__ == "__main__":
    main()
