"""Many streaming clients at once: are they all served, and how long do they wait?

Starts the companion with its default settings (a temporary ``BODHI_HOME``) and, as the
same-run baseline, a llama.cpp child started directly with the flags the companion gives
its own (the bundled launcher, no companion in front). Then N clients (default 256) each send
one streaming chat request at the same moment, first to the direct child, then to the
companion, and every reply is read to its end:

* ok: HTTP 200 and the stream ended with ``data: [DONE]``;
* refused: HTTP 429 or 503 (the companion's queue was full, or a wait ran out);
* broken: anything else (another status, a cut stream, a client error).

It prints, for each target, the counts, time to the first content chunk (p50, p90, from the
moment all clients were released) and the total time. This is a benchmark, not a test: it
asserts nothing. The last lines are machine-readable ``name=value`` (see bench/README.md).

Run: ``.venv/bin/python bench/concurrency.py [--clients N] [--max-tokens M]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field

import aiohttp
from bench_servers import Running, companion, direct_child

from companion.core.upstream import CHILD_HTTP_THREADS
from companion.inference.process import thread_flags
from companion.models.catalog import EMBEDDED_ALIAS, embedded_model

PROMPT = "Write a short poem about the sea."
CLIENT_TIMEOUT_S = 900.0


@dataclass
class Outcome:
    ok: int = 0
    refused: int = 0
    broken: int = 0
    first_chunks: list[float] = field(default_factory=list)
    total_s: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        if not self.first_chunks:
            return float("nan")
        return statistics.quantiles(self.first_chunks, n=100, method="inclusive")[int(q) - 1] \
            if len(self.first_chunks) > 1 else self.first_chunks[0]


async def one_client(session: aiohttp.ClientSession, target: Running, body: bytes,
                     start: asyncio.Event, started: list[float], out: Outcome) -> None:
    headers = {"Content-Type": "application/json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    await start.wait()
    try:
        async with session.post(target.url + "/v1/chat/completions", data=body,
                                headers=headers) as reply:
            out.statuses[reply.status] = out.statuses.get(reply.status, 0) + 1
            if reply.status in (429, 503):
                out.refused += 1
                return
            done = seen = False
            async for line in reply.content:
                if not seen and line.startswith(b"data: {") and b'"content"' in line:
                    out.first_chunks.append(time.perf_counter() - started[0])
                    seen = True
                done = done or line.strip() == b"data: [DONE]"
            if reply.status == 200 and done:
                out.ok += 1
            else:
                out.broken += 1
    except (aiohttp.ClientError, TimeoutError):
        out.broken += 1


async def storm(target: Running, clients: int, max_tokens: int) -> Outcome:
    body = json.dumps({"model": EMBEDDED_ALIAS, "stream": True, "max_tokens": max_tokens,
                       "messages": [{"role": "user", "content": PROMPT}]}).encode()
    out, start, started = Outcome(), asyncio.Event(), [0.0]
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(one_client(session, target, body, start, started, out))
                 for _ in range(clients)]
        await asyncio.sleep(0.2)  # every client is waiting on the start line
        started[0] = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        out.total_s = time.perf_counter() - started[0]
    return out


async def warm(target: Running) -> None:
    out = await storm(target, 1, 2)
    if out.ok != 1:
        raise RuntimeError(f"warm-up failed at {target.url}: {out.statuses}")


def show(name: str, out: Outcome) -> None:
    print(f"{name:>10}: ok {out.ok}  refused {out.refused}  broken {out.broken}  "
          f"first chunk p50 {out.percentile(50) * 1000:.0f} ms  "
          f"p90 {out.percentile(90) * 1000:.0f} ms  total {out.total_s:.1f} s  "
          f"statuses {out.statuses}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--clients", type=int, default=256, help="concurrent streams (256)")
    p.add_argument("--max-tokens", type=int, default=8, help="tokens per reply (8)")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> tuple[Outcome, Outcome]:
    model = embedded_model()
    if model is None:
        raise SystemExit("the embedded model is not installed: run scripts/install")
    flags = ["--jinja", "--threads-http", str(CHILD_HTTP_THREADS),
             *thread_flags(len(os.sched_getaffinity(0)), 1)]   # as a model loaded alone
    with direct_child(model.path, flags) as direct:
        await warm(direct)
        baseline = await storm(direct, args.clients, args.max_tokens)
    show("direct", baseline)
    with companion() as bodhi:
        await warm(bodhi)
        measured = await storm(bodhi, args.clients, args.max_tokens)
    show("companion", measured)
    return baseline, measured


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = parse_args(argv)
    baseline, out = asyncio.run(run(args))
    print(f"clients={args.clients}")
    print(f"ok={out.ok}")
    print(f"refused={out.refused}")
    print(f"broken={out.broken}")
    print(f"first_chunk_p50_ms={out.percentile(50) * 1000:.1f}")
    print(f"first_chunk_p90_ms={out.percentile(90) * 1000:.1f}")
    print(f"total_s={out.total_s:.2f}")
    print(f"direct_ok={baseline.ok}")
    print(f"direct_total_s={baseline.total_s:.2f}")
    print(f"first_chunk_p50_ratio={out.percentile(50) / baseline.percentile(50):.3f}")
    print(f"total_time_ratio={out.total_s / baseline.total_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
