"""How this install starts one of its own modules as a child process.

From a Python install that is ``python -m MODULE``. The one-file binary has no ``python`` to
run: ``sys.executable`` is the binary itself, and its entry point runs ``bodhi __module MODULE
ARGS`` as ``python -m MODULE ARGS`` would. Every child the companion or the native host starts
from its own code (the llama.cpp launcher, the exec guard, the MCP stdio bridge, the companion
started by the native host, the native host named in a browser manifest) goes through here.
"""

from __future__ import annotations

import sys

# The hidden first argument of the frozen binary that runs a module (never shown in --help).
MODULE_ENTRY = "__module"


def frozen() -> bool:
    """True inside the one-file binary built by ``scripts/build_binary``."""
    return bool(getattr(sys, "frozen", False))


def module_command(module: str) -> list[str]:
    """The argv prefix that runs ``module`` as ``__main__`` in this install."""
    if frozen():
        return [sys.executable, MODULE_ENTRY, module]
    return [sys.executable, "-m", module]
