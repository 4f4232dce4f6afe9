"""Start-up of the one-file binary against the Python install, in the same run.

    .venv/bin/python bench/binary_startup.py [--rounds 3]

Needs ``dist/bodhi`` (``scripts/build_binary``). Alternating round by round between
``dist/bodhi`` and ``python -m companion``, it times: from starting ``bodhi serve`` (a fresh
BODHI_HOME each time, a free loopback port) to its first ``/ping`` answer; ``bodhi
--version``; the first chat (1 token: the llama.cpp child starts and loads the model); and a
native-messaging ``ping`` answered by a freshly started native host (``bodhi __module
native_host``, as the browser's launcher runs it, against ``python -m native_host``). Then the
cost of a child that re-runs the binary (what the llama.cpp launcher, the exec guard and the
MCP bridge are): ``bodhi --version`` with the ``_PYI_*`` environment of a running binary (it
reuses that binary's unpacked files) against one with ``PYINSTALLER_RESET_ENVIRONMENT=1`` (it
unpacks its own copy, as the companion started by the native host does). Medians; the last
lines are machine-readable ratios.
"""

from __future__ import annotations

import argparse
import io
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

import httpx

from native_host.framing import read_frame, write_frame

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "dist" / "bodhi"
PYTHON = [sys.executable, "-m", "companion"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(home: Path, port: int) -> dict[str, str]:
    return {**os.environ, "BODHI_HOME": str(home / "bodhi"), "HF_HOME": str(home / "hf"),
            "BODHI_PORT": str(port), "BODHI_LOG_LEVEL": "warning"}


@dataclass
class Started:
    seconds: float
    proc: subprocess.Popen[bytes]
    tmp: tempfile.TemporaryDirectory[str]
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['BODHI_PORT']}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.tmp.cleanup()


def _first_ping(command: list[str]) -> Started:
    tmp = tempfile.TemporaryDirectory(prefix="bodhi-bench-")
    env = _env(Path(tmp.name), _free_port())
    started = time.perf_counter()
    proc = subprocess.Popen([*command, "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = started + 120
    while time.perf_counter() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{env['BODHI_PORT']}/ping",
                         timeout=1).status_code == 200:
                return Started(time.perf_counter() - started, proc, tmp, env)
        except httpx.TransportError:
            time.sleep(0.02)
    proc.kill()
    log = Path(tmp.name) / "bodhi" / "logs" / "bodhi.log"
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise SystemExit(f"{command[0]} serve did not answer /ping (exit {proc.poll()}):\n{tail}")


def _serve_time(command: list[str]) -> float:
    started = _first_ping(command)
    started.stop()
    return started.seconds


def _first_chat(command: list[str]) -> float:
    """The first chat (1 token): the llama.cpp child starts and loads the model."""
    started = _first_ping(command)
    try:
        made = subprocess.run([*command, "token", "create", "--name", "bench"],
                              env=started.env, capture_output=True, check=True, timeout=120)
        token = made.stdout.decode().strip().splitlines()[-1]
        begin = time.perf_counter()
        reply = httpx.post(started.url + "/v1/chat/completions", timeout=300,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"model": "smollm2:135m", "max_tokens": 1,
                                 "messages": [{"role": "user", "content": "Hi"}]})
        reply.raise_for_status()
        return time.perf_counter() - begin
    finally:
        started.stop()


def _run_time(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def _bootloader_env(pid: int) -> dict[str, str]:
    """The environment of the running binary's Python process (the bootloader's child)."""
    import psutil

    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        env = proc.environ()
        if "_PYI_APPLICATION_HOME_DIR" in env:
            return env
    raise SystemExit("no _PYI_ environment found in the running binary")


def _child_times(rounds: int) -> tuple[float, float]:
    started = _first_ping([str(BINARY)])
    try:
        shared_env = _bootloader_env(started.proc.pid)
        reset_env = {**shared_env, "PYINSTALLER_RESET_ENVIRONMENT": "1"}
        shared, fresh = [], []
        for _ in range(rounds):
            shared.append(_run_time([str(BINARY), "--version"], shared_env))
            fresh.append(_run_time([str(BINARY), "--version"], reset_env))
        return statistics.median(shared), statistics.median(fresh)
    finally:
        started.stop()


def _host_ping(command: list[str]) -> float:
    request = io.BytesIO()
    write_frame(request, {"id": 1, "action": "ping"})
    started = time.perf_counter()
    done = subprocess.run(command, input=request.getvalue(), capture_output=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("_PYI")})
    seconds = time.perf_counter() - started
    reply = read_frame(io.BytesIO(done.stdout))
    if not reply or not reply.get("ok"):
        raise SystemExit(f"the native host did not answer ping: {done.stderr.decode()}")
    return seconds


def _median(rounds: int, *measures: Callable[[], float]) -> list[float]:
    samples: list[list[float]] = [[] for _ in measures]
    for _ in range(rounds):
        for sample, measure in zip(samples, measures, strict=True):
            sample.append(measure())
    return [statistics.median(s) for s in samples]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not BINARY.is_file():
        raise SystemExit("dist/bodhi is missing: run scripts/build_binary")
    size = BINARY.stat().st_size / 2**20
    binary_ping, python_ping = _median(args.rounds, lambda: _serve_time([str(BINARY)]),
                                       lambda: _serve_time(PYTHON))
    binary_version, python_version = _median(
        args.rounds, lambda: _run_time([str(BINARY), "--version"]),
        lambda: _run_time([*PYTHON, "--version"]))
    binary_chat, python_chat = _median(args.rounds, lambda: _first_chat([str(BINARY)]),
                                       lambda: _first_chat(PYTHON))
    shared_child, fresh_child = _child_times(args.rounds)
    binary_host, python_host = _median(
        args.rounds, lambda: _host_ping([str(BINARY), "__module", "native_host"]),
        lambda: _host_ping([sys.executable, "-m", "native_host"]))
    print(f"{'':34}{'binary':>10}{'python':>10}")
    print(f"{'start to first /ping (s)':34}{binary_ping:10.2f}{python_ping:10.2f}")
    print(f"{'bodhi --version (s)':34}{binary_version:10.2f}{python_version:10.2f}")
    print(f"{'first chat, model load (s)':34}{binary_chat:10.2f}{python_chat:10.2f}")
    print(f"{'native host start and ping (s)':34}{binary_host:10.2f}{python_host:10.2f}")
    print(f"child re-running the binary: {shared_child:.2f} s sharing the parent's files, "
          f"{fresh_child:.2f} s unpacking its own")
    print(f"binary_size_mib={size:.0f}")
    print(f"first_ping_ratio={binary_ping / python_ping:.2f}")
    print(f"version_ratio={binary_version / python_version:.2f}")
    print(f"first_chat_ratio={binary_chat / python_chat:.2f}")
    print(f"native_host_ping_ratio={binary_host / python_host:.2f}")
    print(f"child_shared_vs_fresh_ratio={shared_child / fresh_child:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
