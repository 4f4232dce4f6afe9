"""Run an executable so that it dies with the process that started it.

``python -m companion.core.exec_guard EXECUTABLE ARGS`` sets the parent-death signal and then
replaces itself with the executable (the setting survives ``exec``). The companion runs a real
``llama-server`` through it, and an MCP bridge runs its stdio server through it, so a
``kill -9`` of the parent leaves neither behind. A bare name is looked up on ``PATH``, as a
shell would (stdio MCP servers are usually ``npx``, ``uvx`` and the like). From the one-file
binary the executable gets the environment as it was before the binary's loader changed it.
"""

from __future__ import annotations

import os
import sys

from companion.core.parent_watch import die_with_parent
from companion.core.self_command import foreign_env


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m companion.core.exec_guard EXECUTABLE [ARGS...]")
    die_with_parent()
    try:
        os.execvpe(argv[0], argv, foreign_env(os.environ))
    except OSError as exc:
        sys.exit(f"cannot run {argv[0]}: {exc.strerror}")


if __name__ == "__main__":
    main(sys.argv[1:])
