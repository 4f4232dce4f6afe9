"""The one-file binary's entry point (``scripts/build_binary`` freezes this module).

``bodhi __module MODULE ARGS`` runs ``MODULE`` as ``python -m MODULE ARGS`` would: that is how
the binary starts its own children (``core.self_command.module_command``), since it has no
``python`` to run. Anything else is the ``bodhi`` command line. The hidden entry is handled
here, before the CLI parses anything, so ``--help`` never shows it.
"""

from __future__ import annotations

import runpy
import sys

from companion.core.self_command import MODULE_ENTRY


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    if len(argv) >= 3 and argv[1] == MODULE_ENTRY:
        module = argv[2]
        sys.argv = [module, *argv[3:]]          # run_module puts the module's path first
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from companion.cli import main as cli_main

    return cli_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
