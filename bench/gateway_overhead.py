"""How much latency does the companion add on top of llama.cpp?

Starts one llama.cpp child directly (the bundled launcher, same flags the companion uses) and
the companion itself (``python -m companion serve``), both serving the embedded SmolLM2 model,
then sends the same requests to each, one at a time, alternating between them:

* non-streaming ``/v1/chat/completions`` with ``max_tokens: 1``: per-request latency;
* streaming with ``max_tokens`` ~64: time to the first content chunk and tokens per second.

A bare aiohttp proxy (``bare_proxy.py``) in front of the direct child runs in the same rounds,
the floor for any Python proxy. The CPU time the companion and the bare proxy spend per
non-streaming request (``/proc``, user + system) is counted too: unlike latency, it does not
drown in the child's own time.

This is a benchmark, not a test: it prints numbers and sets no goals. The last lines are
machine-readable ``name=value`` (bench/README.md).

Run: ``.venv/bin/python bench/gateway_overhead.py [--requests N] [--rounds R] ...``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from bench_servers import free_port, stop, tail

import companion as companion_package
from companion.core.parent_watch import PARENT_PID_ENV
from companion.inference.launcher import API_KEY_ENV
from companion.inference.process import thread_flags
from companion.models.catalog import embedded_model

ALIAS = "smollm2:135m"
CHAT_PATH = "/v1/chat/completions"
HOST = "127.0.0.1"
SHORT_MESSAGE = "Say hi."
STREAM_PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."
CHILD_HTTP_THREADS = 12  # what the companion gives its own children (companion/core/upstream.py)
START_TIMEOUT_S = 120.0
WARM_TIMEOUT_S = 180.0
REQUEST_TIMEOUT_S = 120.0
BARE = "bare aiohttp proxy"

LineSink = Callable[[bytes, float], None]


# --------------------------------------------------------------------------------------------
# HTTP clients: the same kind is used for both targets.


@dataclass
class Reply:
    status: int
    body: bytes
    started: float  # perf_counter() when the attempt that produced this reply began


class Client(Protocol):
    connects: int | None  # connections opened, when the client counts them

    def post(self, path: str, body: bytes, *, close: bool = False,
             on_line: LineSink | None = None) -> Reply: ...

    def close(self) -> None: ...


class RawClient:
    """A minimal HTTP/1.1 client on one keep-alive socket (TCP_NODELAY).

    It costs the caller a few microseconds per request, so what is measured is the servers.
    A connection the server has closed while idle is reopened and the request sent again, with
    the clock restarted; a ``Connection: close`` reply makes the next request connect anew
    (its connect is timed, like the companion's own reconnects to its child are).
    """

    def __init__(self, port: int, token: str | None = None) -> None:
        self._address = (HOST, port)
        self._headers = f"Host: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        if token:
            self._headers += f"Authorization: Bearer {token}\r\n"
        self._sock: socket.socket | None = None
        self._file: Any = None
        self.connects: int | None = 0

    def _connect(self) -> None:
        self.close()
        sock = socket.create_connection(self._address, timeout=REQUEST_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._file = sock, sock.makefile("rb")
        self.connects = (self.connects or 0) + 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None

    def post(self, path: str, body: bytes, *, close: bool = False,
             on_line: LineSink | None = None) -> Reply:
        head = (f"POST {path} HTTP/1.1\r\n{self._headers}Content-Length: {len(body)}\r\n"
                + ("Connection: close\r\n" if close else "") + "\r\n").encode()
        for attempt in (1, 2):
            started = time.perf_counter()
            reused = self._sock is not None
            if not reused:
                self._connect()
            assert self._sock is not None
            try:
                self._sock.sendall(head + body)
                status_line = self._file.readline()
                if not status_line:
                    raise ConnectionResetError("connection closed before the reply")
            except (ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    continue  # the server dropped an idle keep-alive connection
                raise
            return self._read_reply(status_line, started, close, on_line)
        raise AssertionError("unreachable")

    def _read_reply(self, status_line: bytes, started: float, close: bool,
                    on_line: LineSink | None) -> Reply:
        version, status = status_line.split(b" ", 2)[:2]
        headers: dict[bytes, bytes] = {}
        while (line := self._file.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        splitter = _LineSplitter(on_line) if on_line else None
        parts: list[bytes] = []

        def take(data: bytes) -> None:
            if splitter is not None:
                splitter.feed(data, time.perf_counter())
            else:
                parts.append(data)

        if headers.get(b"transfer-encoding") == b"chunked":
            while True:
                size = int(self._file.readline().split(b";")[0], 16)
                if size == 0:
                    while self._file.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                take(self._file.read(size))
                self._file.read(2)
        elif b"content-length" in headers:
            take(self._file.read(int(headers[b"content-length"])))
        else:
            close = True
            while chunk := self._file.read1(65536):
                take(chunk)
        if splitter is not None:
            splitter.flush(time.perf_counter())
        if close or version == b"HTTP/1.0" or headers.get(b"connection") == b"close":
            self.close()
        return Reply(int(status), b"".join(parts), started)


class _LineSplitter:
    def __init__(self, sink: LineSink) -> None:
        self._sink = sink
        self._pending = b""

    def feed(self, data: bytes, at: float) -> None:
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            self._sink(line.rstrip(b"\r"), at)

    def flush(self, at: float) -> None:
        if self._pending:
            self._sink(self._pending.rstrip(b"\r"), at)
            self._pending = b""


class HttpxClient:
    """``httpx.Client`` with keep-alive; its own cost per request (hundreds of microseconds
    to a millisecond on a slow CPU) is paid alike on both targets but adds noise."""

    def __init__(self, port: int, token: str | None = None) -> None:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers,
                                    timeout=REQUEST_TIMEOUT_S, trust_env=False)
        self.connects: int | None = None  # not tracked

    def post(self, path: str, body: bytes, *, close: bool = False,
             on_line: LineSink | None = None) -> Reply:
        started = time.perf_counter()
        headers = {"connection": "close"} if close else None
        with self._client.stream("POST", path, content=body, headers=headers) as reply:
            if on_line is None:
                return Reply(reply.status_code, reply.read(), started)
            for line in reply.iter_lines():
                on_line(line.encode(), time.perf_counter())
            return Reply(reply.status_code, b"", started)

    def close(self) -> None:
        self._client.close()


# --------------------------------------------------------------------------------------------
# One request of each kind.


def chat_body(message: str, max_tokens: int, stream: bool) -> bytes:
    return json.dumps({"model": ALIAS, "messages": [{"role": "user", "content": message}],
                       "max_tokens": max_tokens, "temperature": 0, "stream": stream}).encode()


@dataclass
class Samples:
    latency_ms: list[float] = field(default_factory=list)
    compute_ms: list[float] = field(default_factory=list)  # llama.cpp's own timings
    ttft_ms: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    round_p50_ms: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # the proxy's CPU per request, by round


def _check(reply: Reply, name: str) -> None:
    if reply.status != 200:
        raise RuntimeError(f"{name}: HTTP {reply.status}: {reply.body[:300]!r}")


def one_request(client: Client, body: bytes, name: str) -> tuple[float, float]:
    """Latency and llama.cpp's reported compute time of one non-streaming request, in ms."""
    reply = client.post(CHAT_PATH, body)
    elapsed = (time.perf_counter() - reply.started) * 1000
    _check(reply, name)
    timings = json.loads(reply.body).get("timings") or {}
    return elapsed, float(timings.get("prompt_ms", 0.0)) + float(timings.get("predicted_ms", 0.0))


def one_stream(client: Client, body: bytes, name: str) -> tuple[float, float, int]:
    """TTFT in ms, tokens/s after the first content chunk, and content chunks seen."""
    content_at: list[float] = []

    def on_line(line: bytes, at: float) -> None:
        if not line.startswith(b"data:"):
            return
        payload = line[5:].strip()
        if payload == b"[DONE]":
            return
        choices = json.loads(payload).get("choices") or [{}]
        if (choices[0].get("delta") or {}).get("content"):
            content_at.append(at)

    # llama.cpp closes the connection after a streamed reply while announcing keep-alive:
    # ask for close on both targets, so each stream pays the same fresh connect.
    reply = client.post(CHAT_PATH, body, close=True, on_line=on_line)
    _check(reply, name)
    if not content_at:
        raise RuntimeError(f"{name}: the stream had no content")
    ttft = (content_at[0] - reply.started) * 1000
    span = content_at[-1] - content_at[0]
    rate = (len(content_at) - 1) / span if span > 0 else float("nan")
    return ttft, rate, len(content_at)


# --------------------------------------------------------------------------------------------
# Processes.


def wait_http_ok(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> float:
    """Poll ``url`` until 200; seconds taken. Fails when the process exits or time runs out."""
    started = time.monotonic()
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() - started < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode} while starting; "
                                   f"log {log}:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s; log {log}:\n{tail(log)}")


def child_of(parent_pid: int) -> tuple[int, str] | None:
    """The ``--port`` and API key of the llama.cpp launcher started by ``parent_pid`` (Linux
    /proc; the key is in the child's environment, readable by the same user only)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent_pid and b"companion.inference.launcher" in argv and b"--port" in argv:
            key = next((v.split(b"=", 1)[1] for v in environ
                        if v.startswith(API_KEY_ENV.encode() + b"=")), b"")
            return int(argv[argv.index(b"--port") + 1]), key.decode()
    return None


@dataclass
class Setup:
    direct_port: int
    companion_port: int
    token: str
    companion_pid: int
    bare_port: int
    bare_pid: int


@contextlib.contextmanager
def servers(model: Path, verbose: bool) -> Iterator[Setup]:
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bodhi-bench-") as tmp:
        home = Path(tmp) / "home"
        base_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("BODHI_") and k != "HF_HOME"}
        env = {**base_env, "BODHI_HOME": str(home), "HF_HOME": str(Path(tmp) / "hf"),
               "BODHI_KEEP_ALIVE_SECS": "-1", "BODHI_LOG_LEVEL": "WARNING"}
        try:
            direct_port, companion_port = free_port(), free_port()
            direct_log = Path(tmp) / "direct-llama.log"
            with direct_log.open("wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "companion.inference.launcher", "--model", str(model),
                     "--host", HOST, "--port", str(direct_port), "--alias", ALIAS, "--jinja",
                     "--threads-http", str(CHILD_HTTP_THREADS),
                     # The compute threads the companion gives its own child (loaded alone),
                     # so the two children differ only in what stands in front of them.
                     *thread_flags(len(os.sched_getaffinity(0)), 1)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    env={**base_env, PARENT_PID_ENV: str(os.getpid())}))
            created = subprocess.run(
                [sys.executable, "-m", "companion", "token", "create", "--name", "bench"],
                env=env, capture_output=True, timeout=60, check=False)
            if created.returncode != 0 or not created.stdout.strip():
                raise RuntimeError(f"bodhi token create failed ({created.returncode}): "
                                   f"{created.stderr.decode(errors='replace')[-600:]}")
            token = created.stdout.decode().strip().splitlines()[-1]
            companion_log = Path(tmp) / "companion.out"
            with companion_log.open("wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "companion", "serve", "--port", str(companion_port)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env))
            bare_port = free_port()
            bare_log = Path(tmp) / "bare-proxy.log"
            with bare_log.open("wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, str(Path(__file__).with_name("bare_proxy.py")), "--port",
                     str(bare_port), "--upstream", f"http://{HOST}:{direct_port}"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
            direct, companion, bare = procs
            wait_http_ok(bare, f"http://{HOST}:{bare_port}/ping", bare_log, START_TIMEOUT_S)
            took = wait_http_ok(direct, f"http://{HOST}:{direct_port}/health", direct_log,
                                START_TIMEOUT_S)
            note(verbose, f"direct llama.cpp ready in {took:.1f}s (port {direct_port})")
            took = wait_http_ok(companion, f"http://{HOST}:{companion_port}/ping",
                                companion_log, START_TIMEOUT_S)
            note(verbose, f"companion ready in {took:.1f}s (port {companion_port})")
            started = time.monotonic()
            with httpx.Client(timeout=WARM_TIMEOUT_S, trust_env=False) as client:
                reply = client.post(f"http://{HOST}:{companion_port}{CHAT_PATH}",
                                    content=chat_body(SHORT_MESSAGE, 1, False),
                                    headers={"authorization": f"Bearer {token}",
                                             "content-type": "application/json"})
            if reply.status_code != 200:
                raise RuntimeError(f"companion warm-up: HTTP {reply.status_code}: "
                                   f"{reply.text[:300]}\n{tail(home / 'logs' / 'bodhi.log')}")
            note(verbose, f"companion loaded its child in {time.monotonic() - started:.1f}s")
            yield Setup(direct_port, companion_port, token, companion.pid, bare_port, bare.pid)
        finally:
            for proc in reversed(procs):
                stop(proc)


def note(verbose: bool, message: str) -> None:
    if verbose:
        sys.stdout.flush()
        print(f"# {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The runs.


@dataclass
class Target:
    name: str
    client: Client
    pid: int | None = None      # the proxy's process, whose CPU time is counted
    plain: Samples = field(default_factory=Samples)
    stream: Samples = field(default_factory=Samples)


def run_plain(target: Target, body: bytes, count: int, warmup: int) -> None:
    for _ in range(warmup):  # refreshes keep-alive connections (ours and the relay's)
        one_request(target.client, body, target.name)
    this_round = []
    cpu_before = _cpu_seconds(target.pid)
    for _ in range(count):
        latency, compute = one_request(target.client, body, target.name)
        this_round.append(latency)
        target.plain.compute_ms.append(compute)
    if target.pid is not None:
        target.plain.cpu_us.append((_cpu_seconds(target.pid) - cpu_before) / count * 1e6)
    target.plain.latency_ms += this_round
    target.plain.round_p50_ms.append(statistics.median(this_round))


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``); 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_stream(target: Target, body: bytes, count: int, warmup: int) -> None:
    for _ in range(min(warmup, 1)):  # the child's KV cache may hold the other prompt
        one_stream(target.client, body, target.name)
    for _ in range(count):
        ttft, rate, tokens = one_stream(target.client, body, target.name)
        target.stream.ttft_ms.append(ttft)
        target.stream.tokens_per_s.append(rate)
        target.stream.tokens.append(tokens)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _added(direct: Target, target: Target) -> tuple[float, float, float]:
    """Added p50 latency, added TTFT (ms) and tokens/s ratio of ``target`` over direct."""
    return (statistics.median(target.plain.latency_ms) - statistics.median(direct.plain.latency_ms),
            statistics.median(target.stream.ttft_ms) - statistics.median(direct.stream.ttft_ms),
            statistics.median(target.stream.tokens_per_s)
            / statistics.median(direct.stream.tokens_per_s))


def report(targets: list[Target], args: argparse.Namespace) -> None:
    direct, companion = targets[0], targets[1]
    print(f"\ncompanion {companion_package.__version__} from "
          f"{Path(companion_package.__file__).parent}; "
          f"{os.cpu_count()} CPUs")
    print(f"\nNon-streaming chat, max_tokens=1: {args.rounds} rounds x {args.requests} "
          f"requests per target, client={args.client}")
    print(f"{'target':<22}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'min ms':>9}"
          f"{'llama ms':>10}{'p50-llama':>11}{'connects':>10}")
    for t in targets:
        lat, comp = t.plain.latency_ms, t.plain.compute_ms
        print(f"{t.name:<22}{statistics.median(lat):>9.3f}{pct(lat, 0.9):>9.3f}"
              f"{pct(lat, 0.99):>9.3f}{statistics.fmean(lat):>9.3f}{min(lat):>9.3f}"
              f"{statistics.median(comp):>10.3f}"
              f"{statistics.median(lat) - statistics.median(comp):>11.3f}"
              f"{'-' if t.client.connects is None else t.client.connects:>10}")
    print("per-round p50 added ms (companion - direct): " + ", ".join(
        f"{c - d:.3f}" for d, c in zip(direct.plain.round_p50_ms, companion.plain.round_p50_ms,
                                        strict=True)))
    print("  (llama ms: prompt_ms + predicted_ms reported by llama.cpp; p50-llama: the rest)")
    for t in targets:
        if t.plain.cpu_us:
            print(f"{t.name} CPU per request, by round (us): "
                  + ", ".join(f"{us:.0f}" for us in t.plain.cpu_us))

    print(f"\nStreaming chat, max_tokens={args.max_tokens}: {args.rounds} rounds x "
          f"{args.stream_requests} streams per target, Connection: close")
    print(f"{'target':<22}{'TTFT p50':>10}{'TTFT p90':>10}{'TTFT min':>10}{'tok/s p50':>11}"
          f"{'tok/s min':>11}{'tokens':>8}")
    for t in targets:
        s = t.stream
        print(f"{t.name:<22}{statistics.median(s.ttft_ms):>10.3f}{pct(s.ttft_ms, 0.9):>10.3f}"
              f"{min(s.ttft_ms):>10.3f}{statistics.median(s.tokens_per_s):>11.2f}"
              f"{min(s.tokens_per_s):>11.2f}{statistics.median(s.tokens):>8.0f}")

    print()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--requests", type=int, default=200,
                   help="non-streaming requests per target per round (default 200)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--stream-requests", type=int, default=12,
                   help="streamed requests per target per round (default 12)")
    p.add_argument("--max-tokens", type=int, default=64,
                   help="max_tokens of streamed requests (default 64)")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed requests per target at the start of each round (default 3; "
                        "streaming rounds use at most 1)")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="raw keep-alive socket client (default) or httpx.Client")
    p.add_argument("--control", action="store_true",
                   help="also measure the companion's own llama.cpp child directly")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    if min(args.requests, args.rounds, args.stream_requests, args.max_tokens) < 1:
        p.error("--requests, --rounds, --stream-requests and --max-tokens must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so both servers are stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    embedded = embedded_model()
    if embedded is None:
        print("the embedded model package (bodhi-model-smollm2) is not installed; "
              "run scripts/install", file=sys.stderr)
        return 1
    make: Callable[[int, str | None], Client] = RawClient if args.client == "raw" else HttpxClient
    verbose = not args.quiet
    began = time.monotonic()
    with servers(embedded.path, verbose) as setup:
        targets = [Target("direct llama.cpp", make(setup.direct_port, None)),
                   Target("companion", make(setup.companion_port, setup.token),
                          setup.companion_pid),
                   Target(BARE, make(setup.bare_port, None), setup.bare_pid)]
        if args.control:
            child = child_of(setup.companion_pid)
            if child is None:
                note(verbose, "companion's child not found; no control row")
            else:
                targets.append(Target("companion's child", make(*child)))
        try:
            plain = chat_body(SHORT_MESSAGE, 1, False)
            streamed = chat_body(STREAM_PROMPT, args.max_tokens, True)
            for number in range(1, args.rounds + 1):
                note(verbose, f"round {number}/{args.rounds}: non-streaming")
                for t in targets:
                    run_plain(t, plain, args.requests, args.warmup)
                note(verbose, f"round {number}/{args.rounds}: streaming")
                for t in targets:
                    run_stream(t, streamed, args.stream_requests, args.warmup)
            report(targets, args)
            added = {t.name: _added(targets[0], t) for t in targets[1:3]}
        finally:
            for t in targets:
                t.client.close()
    note(verbose, f"total {time.monotonic() - began:.0f}s")
    (p50_added, ttft_added, ratio), (bare_p50, bare_ttft, bare_ratio) = added.values()
    print(f"bare_p50_added_ms={bare_p50:.3f}")
    print(f"bare_ttft_added_ms={bare_ttft:.3f}")
    print(f"bare_stream_tokens_per_s_ratio={bare_ratio:.4f}")
    print(f"p50_added_vs_bare_ms={p50_added - bare_p50:.3f}")
    print(f"ttft_added_vs_bare_ms={ttft_added - bare_ttft:.3f}")
    print(f"p50_added_ms={p50_added:.3f}")
    print(f"ttft_added_ms={ttft_added:.3f}")
    print(f"stream_tokens_per_s_ratio={ratio:.4f}")
    cpu = {t.name: statistics.median(t.plain.cpu_us) for t in targets[1:3]}
    print(f"bare_cpu_us_per_request={cpu[BARE]:.0f}")
    print(f"companion_cpu_us_per_request={cpu['companion']:.0f}")
    print(f"cpu_vs_bare_ratio={cpu['companion'] / cpu[BARE]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
