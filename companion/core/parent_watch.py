"""Make a child process die with its parent, even after ``kill -9`` of the parent.

On Linux the kernel delivers SIGTERM when the parent exits (``PR_SET_PDEATHSIG``); a
polling thread covers other systems and the window before the call is made.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
# From a parent to the children it starts (llama.cpp children, MCP bridges and their stdio
# servers); the leading underscore marks it as internal, not a BODHI_* setting.
PARENT_PID_ENV = "_BODHI_PARENT_PID"


def _set_pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _expected_parent() -> int:
    raw = os.environ.get(PARENT_PID_ENV, "")
    return int(raw) if raw.isdigit() else os.getppid()


def die_with_parent() -> None:
    """Arrange SIGTERM to this process when its parent goes away; exit now if it already has."""
    parent = _expected_parent()
    _set_pdeathsig()
    if os.getppid() != parent:
        os._exit(0)


def start_parent_poll(interval: float = 1.0) -> None:
    """Belt and braces for ``die_with_parent``: poll the parent pid in a daemon thread."""
    parent = _expected_parent()

    def poll() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=poll, name="parent-watch", daemon=True).start()
