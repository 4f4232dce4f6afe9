"""The bundled llama-server: llama.cpp's C++ HTTP server run in-process via ``xllamacpp``.

``python -m companion.inference.launcher`` accepts the llama-server flags the companion uses
(and a few more), so the companion treats it exactly like a real ``llama-server`` binary.
Flags it does not know are refused with exit code 2 and a message naming them. Like
llama-server it reads its API key from ``LLAMA_API_KEY`` (comma-separated keys; with one set,
every route but ``/health`` wants ``Authorization: Bearer <key>``) and its allowed CORS
origins from ``LLAMA_ARG_CORS_ORIGINS``: secrets stay off the command line. It exits cleanly
on SIGTERM/SIGINT and by itself when its parent process dies.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from companion.core.parent_watch import die_with_parent, start_parent_poll

POOLING = ("none", "mean", "cls", "last", "rank")
# The environment variables llama-server reads for ``--api-key`` and ``--cors-origins``.
API_KEY_ENV = "LLAMA_API_KEY"
CORS_ORIGINS_ENV = "LLAMA_ARG_CORS_ORIGINS"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's signature is NoReturn
        self.exit(2, f"bodhi launcher: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m companion.inference.launcher", allow_abbrev=False,
                description="Run llama.cpp's HTTP server (llama-server flags).")
    p.add_argument("-m", "--model", required=True, help="GGUF file to serve")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("-a", "--alias", default=None, help="model name reported by the API")
    p.add_argument("-c", "--ctx-size", type=int, default=0, help="context size (0: model's)")
    p.add_argument("-np", "--parallel", type=int, default=4, help="number of slots")
    p.add_argument("-t", "--threads", type=int, default=-1)
    p.add_argument("-tb", "--threads-batch", type=int, default=-1)
    p.add_argument("--threads-http", type=int, default=-1)
    p.add_argument("--poll", type=int, default=None,
                   help="how hard idle compute threads poll for work, 0-100 (0: they sleep)")
    p.add_argument("--poll-batch", type=int, default=None)
    p.add_argument("-b", "--batch-size", type=int, default=None)
    p.add_argument("-ub", "--ubatch-size", type=int, default=None)
    p.add_argument("-n", "--n-predict", type=int, default=None)
    p.add_argument("-ngl", "--n-gpu-layers", "--gpu-layers", type=int, default=None)
    p.add_argument("-s", "--seed", type=int, default=None)
    p.add_argument("--embedding", "--embeddings", dest="embeddings", action="store_true")
    p.add_argument("--pooling", choices=POOLING, default=None)
    p.add_argument("--jinja", dest="jinja", action="store_true", default=True)
    p.add_argument("--no-jinja", dest="jinja", action="store_false")
    p.add_argument("--chat-template", default=None, help="a Jinja chat template")
    p.add_argument("--chat-template-file", type=Path, default=None)
    p.add_argument("--cont-batching", dest="cont_batching", action="store_true", default=None)
    p.add_argument("--no-cont-batching", dest="cont_batching", action="store_false")
    p.add_argument("--no-warmup", action="store_true")
    p.add_argument("--metrics", action="store_true")
    p.add_argument("--slots", dest="slots", action="store_true", default=True)
    p.add_argument("--no-slots", dest="slots", action="store_false")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.exit(2, "bodhi launcher: unsupported llama-server flag(s): "
                       f"{' '.join(unknown)}. Set BODHI_LLAMA_SERVER to a llama-server "
                       "binary to use flags the bundled launcher does not know.\n")
    return args


def _template(args: argparse.Namespace) -> str | None:
    if args.chat_template_file is not None:
        return str(args.chat_template_file.read_text(encoding="utf-8"))
    return str(args.chat_template) if args.chat_template else None


def build_params(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    if args.alias:
        params.model_alias = {args.alias}
    params.n_ctx = args.ctx_size
    params.n_parallel = args.parallel
    params.kv_unified = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads_batch
    params.n_threads_http = args.threads_http
    params.use_jinja = args.jinja
    params.endpoint_metrics = args.metrics
    params.endpoint_slots = args.slots
    params.warmup = not args.no_warmup
    template = _template(args)
    if template:
        params.chat_template = template
    _set_optional(params, args)
    _set_access(params, os.environ if env is None else env)
    if args.embeddings:
        params.embedding = True
        pooling = args.pooling or "mean"
        params.pooling_type = getattr(xllamacpp.llama_pooling_type,
                                      f"LLAMA_POOLING_TYPE_{pooling.upper()}")
    return params


def _set_optional(params: Any, args: argparse.Namespace) -> None:
    for attr, value in (("n_batch", args.batch_size), ("n_ubatch", args.ubatch_size),
                        ("n_predict", args.n_predict), ("n_gpu_layers", args.n_gpu_layers),
                        ("cont_batching", args.cont_batching)):
        if value is not None:
            setattr(params, attr, value)
    if args.seed is not None:
        params.sampling.seed = args.seed
    if args.poll is not None:
        params.cpuparams.poll = args.poll
    poll_batch = args.poll if args.poll_batch is None else args.poll_batch
    if poll_batch is not None:
        params.cpuparams_batch.poll = poll_batch


def _set_access(params: Any, env: Mapping[str, str]) -> None:
    keys = [key for key in env.get(API_KEY_ENV, "").split(",") if key]
    if keys:
        params.api_keys = keys
    if CORS_ORIGINS_ENV in env:
        params.cors_origins = env[CORS_ORIGINS_ENV]
        params.cors_origins_explicit = True


_stop_requested = False


def _request_stop(signum: int, frame: object) -> None:
    global _stop_requested
    _stop_requested = True


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    start_parent_poll()
    import xllamacpp

    try:
        server = xllamacpp.Server(build_params(args))
    except RuntimeError as exc:
        print(f"bodhi launcher: llama.cpp server failed to start: {exc}", file=sys.stderr)
        return 1
    print(f"bodhi launcher: serving {args.model} at {server.listening_address}",
          file=sys.stderr, flush=True)
    while not _stop_requested:
        time.sleep(0.1)
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
