"""Which llama-server flags an alias may set in ``context_params``.

Aliases are written by power users, by the paired extension and by hand, so their flags are
an allow-list of tuning flags: context, batching, sampling, GPU, threading, memory and chat
template. A flag that names a file, a host, a port, a key or the model is not on it, nor is
anything that opens an endpoint or writes a log; the companion sets those itself, after the
alias's flags. ``BODHI_LLAMACPP_ARGS`` (admin only) is trusted and not checked here.

Values are not checked: no allowed flag takes a path, and llama-server refuses a stray
positional value. A token that looks like a flag must be on the list, in either its
``--flag value`` or ``--flag=value`` spelling.
"""

from __future__ import annotations

import re

ALLOWED_FLAGS = frozenset({
    # context, batching and slots
    "-c", "--ctx-size", "-n", "--n-predict", "--predict", "-b", "--batch-size",
    "-ub", "--ubatch-size", "-np", "--parallel", "--keep", "-cb", "--cont-batching",
    "-nocb", "--no-cont-batching", "--context-shift", "--no-context-shift", "--cache-reuse",
    "--swa-full", "--kv-unified", "--no-kv-unified",
    "--rope-scaling", "--rope-scale", "--rope-freq-base", "--rope-freq-scale",
    "--yarn-orig-ctx", "--yarn-ext-factor", "--yarn-attn-factor", "--yarn-beta-slow",
    "--yarn-beta-fast", "-gan", "--grp-attn-n", "-gaw", "--grp-attn-w",
    # sampling defaults
    "-s", "--seed", "--temp", "--top-k", "--top-p", "--min-p", "--typical",
    "--repeat-penalty", "--repeat-last-n", "--presence-penalty", "--frequency-penalty",
    "--mirostat", "--mirostat-lr", "--mirostat-ent", "--dynatemp-range", "--dynatemp-exp",
    "--xtc-probability", "--xtc-threshold", "--dry-multiplier", "--dry-base",
    "--dry-allowed-length", "--dry-penalty-last-n", "--samplers", "--sampling-seq",
    "--ignore-eos",
    # GPU
    "-ngl", "--n-gpu-layers", "--gpu-layers", "-sm", "--split-mode", "-ts", "--tensor-split",
    "-mg", "--main-gpu", "-dev", "--device", "-fa", "--flash-attn", "-nkvo",
    "--no-kv-offload", "--cpu-moe", "-cmoe", "--n-cpu-moe", "-ncmoe",
    # threads and memory
    "-t", "--threads", "-tb", "--threads-batch", "-C", "--cpu-mask", "-Cr", "--cpu-range",
    "--cpu-strict", "--prio", "--poll", "--numa", "-ctk", "--cache-type-k", "-ctv",
    "--cache-type-v", "--mlock", "--no-mmap",
    # chat template (inline only: --chat-template-file names a file), embeddings pooling
    "--jinja", "--no-jinja", "--chat-template", "--reasoning-format", "--reasoning-budget",
    "--pooling", "--no-warmup",
})

# A value such as -1 or -0.5 is not a flag.
_NUMBER = re.compile(r"^-\d+(\.\d+)?$")


def refused_flag(args: list[str]) -> str | None:
    """The first token of ``args`` that is a flag not on the allow-list, or None."""
    for token in args:
        if not token.startswith("-") or _NUMBER.match(token):
            continue
        name = token.split("=", 1)[0]
        if name not in ALLOWED_FLAGS:
            return name
    return None


def refusal_message(flag: str) -> str:
    return (f"the llama-server flag '{flag}' is not allowed in an alias (allowed: context, "
            "batch, sampling, GPU, threading and inline chat-template flags; never a file, "
            "host, port, key or the model)")
