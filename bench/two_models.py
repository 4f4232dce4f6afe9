"""Do two loaded models collapse throughput? Old child thread defaults against the new ones.

For each variant, a companion (temporary ``BODHI_HOME``, default settings otherwise) serves
the embedded SmolLM2 model under two aliases (``smollm2:135m`` and a copy), so it runs two
llama.cpp children:

1. one model loaded and used: ``--concurrency`` clients send chat requests (``max_tokens``
   tokens each, end of text ignored) to the first alias for ``--seconds``;
2. two models loaded and used at once: the second alias is loaded too, and as many clients
   again send to it while the first alias's clients go on, for the same time.

Generated tokens per second (the replies' ``usage``) for each phase, and two / one. The
variants, alternated round by round in the same run:

* ``old``: llama.cpp's own defaults, as the companion used them (a thread per core for
  generation and for prompts, busy-polling between steps: ``--threads -1 --threads-batch -1
  --poll 50``, given through ``BODHI_LLAMACPP_ARGS``, so they win over the new defaults);
* ``new``: the companion's defaults (each child its share of the cores among the children
  running as it starts, ``--poll 0``: the first all cores, the second half);
* ``cores``: a thread per core for every child, as llama.cpp's defaults, but sleeping instead of
  busy-polling between steps (``--threads -1 --threads-batch -1 --poll 0``);
* ``halves``: every child half the cores, ``--poll 0`` (the companion's defaults before they
  counted the children running: its share of ``BODHI_MAX_LOADED_MODELS``, 2).

A benchmark, not a test. The last lines are machine-readable ``name=value`` (bench/README.md).

Run: ``.venv/bin/python bench/two_models.py [--seconds S] [--concurrency C] [--rounds R]
[--variants old new cores halves]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time

import aiohttp
import httpx
from bench_servers import Running, companion

from companion.models.catalog import EMBEDDED_ALIAS

OTHER = "smol-b"
MODELS = "/bodhi/v1/models"
HALF = max(1, (os.cpu_count() or 2) // 2)
VARIANTS = {"old": "--threads -1 --threads-batch -1 --poll 50", "new": "",
            "cores": "--threads -1 --threads-batch -1 --poll 0",
            "halves": f"--threads {HALF} --threads-batch {HALF} --poll 0"}


async def drive(target: Running, alias: str, until: float, concurrency: int,
                max_tokens: int) -> int:
    """Generated tokens from ``concurrency`` clients sending back to back until ``until``."""
    body = {"model": alias, "max_tokens": max_tokens, "ignore_eos": True,
            "messages": [{"role": "user", "content": "Tell me a long story."}]}
    headers = {"Authorization": f"Bearer {target.token}"}
    tokens = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        async def client() -> None:
            nonlocal tokens
            while time.monotonic() < until:
                async with session.post(target.url + "/v1/chat/completions", json=body,
                                        headers=headers) as reply:
                    reply.raise_for_status()
                    tokens += (await reply.json())["usage"]["completion_tokens"]

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return tokens


async def phase(target: Running, aliases: list[str], args: argparse.Namespace) -> float:
    started = time.monotonic()
    counts = await asyncio.gather(*(drive(target, alias, started + args.seconds,
                                          args.concurrency, args.max_tokens)
                                    for alias in aliases))
    return sum(counts) / (time.monotonic() - started)


def load(target: Running, alias: str) -> None:
    reply = httpx.post(f"{target.url}{MODELS}/{alias}/load", timeout=300,
                       headers={"Authorization": f"Bearer {target.token}"})
    reply.raise_for_status()


def one_round(extra_flags: str, args: argparse.Namespace) -> tuple[float, float]:
    settings = {"BODHI_LLAMACPP_ARGS": extra_flags} if extra_flags else {}
    with companion(**settings) as bodhi:
        made = httpx.post(f"{bodhi.url}{MODELS}/alias/{EMBEDDED_ALIAS}/copy",
                          json={"alias": OTHER},
                          headers={"Authorization": f"Bearer {bodhi.token}"})
        made.raise_for_status()
        load(bodhi, EMBEDDED_ALIAS)
        one = asyncio.run(phase(bodhi, [EMBEDDED_ALIAS], args))
        load(bodhi, OTHER)
        two = asyncio.run(phase(bodhi, [EMBEDDED_ALIAS, OTHER], args))
    return one, two


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=15.0, help="per phase (15)")
    p.add_argument("--concurrency", type=int, default=4, help="clients per model (4)")
    p.add_argument("--max-tokens", type=int, default=32, help="tokens per reply (32)")
    p.add_argument("--rounds", type=int, default=1, help="rounds of the variants, alternated (1)")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                   help="which to run (all)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = parse_args(argv)
    seen: dict[str, dict[str, list[float]]] = {v: {"one": [], "two": []}
                                               for v in VARIANTS if v in args.variants}
    for round_no in range(args.rounds):
        order = [v for v in VARIANTS if v in args.variants]
        order = order if round_no % 2 == 0 else list(reversed(order))
        for variant in order:
            one, two = one_round(VARIANTS[variant], args)
            seen[variant]["one"].append(one)
            seen[variant]["two"].append(two)
            print(f"round {round_no + 1} {variant:>6}: one model {one:.1f} tok/s, two models "
                  f"{two:.1f} tok/s ({two / one:.2f}x)", flush=True)
    med = {v: {k: statistics.median(x) for k, x in phases.items()}
           for v, phases in seen.items()}
    for variant in med:
        print(f"{variant}_one_model_tokens_per_s={med[variant]['one']:.1f}")
        print(f"{variant}_two_models_tokens_per_s={med[variant]['two']:.1f}")
        print(f"{variant}_two_over_one={med[variant]['two'] / med[variant]['one']:.3f}")
    if "new" in med and "old" in med:
        print(f"two_models_new_over_old={med['new']['two'] / med['old']['two']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
