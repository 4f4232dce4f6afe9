"""Run a real ``llama-server`` binary so that it dies with the companion.

``python -m companion.inference.exec_guard /path/to/llama-server ARGS`` sets the parent-death
signal and then replaces itself with the binary (the setting survives ``execv``).
"""

from __future__ import annotations

import os
import sys

from companion.inference.parent_watch import die_with_parent


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m companion.inference.exec_guard EXECUTABLE [ARGS...]")
    die_with_parent()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
