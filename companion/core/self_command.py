"""How this install starts one of its own modules as a child process.

From a Python install that is ``python -m MODULE``. The one-file binary has no ``python`` to
run: ``sys.executable`` is the binary itself, and its entry point runs ``bodhi __module MODULE
ARGS`` as ``python -m MODULE ARGS`` would. Every child the companion or the native host starts
from its own code (the llama.cpp launcher, the exec guard, the MCP stdio bridge, the companion
started by the native host, the native host named in a browser manifest) goes through here.

A one-file binary unpacks itself into a temporary folder at start and removes it at exit. A
child that re-runs ``sys.executable`` with the inherited ``_PYI_*`` environment reuses that
folder instead of unpacking again (PyInstaller 6), which makes it cheap: right for children
that die with their parent. A child that must outlive its parent (the companion started by
the native host) gets ``PYINSTALLER_RESET_ENVIRONMENT=1`` (``outliving_env``) and unpacks a
copy of its own. A program that is not ours gets the environment as it was before the
binary changed it (``foreign_env``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# Set by PyInstaller's bootloader for the process it runs and the children it shares its
# unpacked folder with; the loader path it prepends is saved under LD_LIBRARY_PATH_ORIG.
_BOOTLOADER_PREFIX = "_PYI_"
_HOME_ENV = "_PYI_APPLICATION_HOME_DIR"     # the unpacked folder
_RESET_ENV = "PYINSTALLER_RESET_ENVIRONMENT"
_LOADER_PATHS = ("LD_LIBRARY_PATH", "LIBPATH")

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


def outliving_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for a child of ours that outlives this process (it unpacks its own
    copy: ours is removed when this process exits)."""
    out = dict(env)
    if frozen():
        out[_RESET_ENV] = "1"
    return out


def sharing_env(env: Mapping[str, str]) -> dict[str, str]:
    """What a child of ours started with an environment built from scratch needs to share
    this binary's unpacked folder (nothing from a Python install)."""
    if not frozen():
        return {}
    loader = {*_LOADER_PATHS, *(f"{name}_ORIG" for name in _LOADER_PATHS)}
    return {k: v for k, v in env.items() if k.startswith(_BOOTLOADER_PREFIX) or k in loader}


def foreign_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for a program that is not ours: without the bootloader's variables,
    and with the loader path as it was before the binary put its folder first."""
    if not frozen():
        return dict(env)
    home = env.get(_HOME_ENV, "")
    out = {k: v for k, v in env.items() if not k.startswith(_BOOTLOADER_PREFIX)}
    for name in _LOADER_PATHS:
        original = out.pop(f"{name}_ORIG", None)
        if not home or out.get(name, "").split(os.pathsep)[0] != home:
            continue                    # not the bootloader's (the caller set its own)
        if original is not None:
            out[name] = original
        else:
            del out[name]
    return out
