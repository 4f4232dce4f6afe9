"""``bodhi serve``: run the companion in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import resource
import shlex
import shutil
import signal
import sys
from pathlib import Path

from aiohttp import web

from companion import __version__
from companion.app import build_app
from companion.core.errors import ConfigError
from companion.core.home import secure_home, sweep_home
from companion.core.listener import GuardedSite
from companion.core.logs import AccessLogger, setup_logging
from companion.core.self_command import frozen
from companion.core.settings import Settings, public_url, reaching_flags
from companion.models.catalog import EMBEDDED_ALIAS, embedded_model

log = logging.getLogger(__name__)

# An idle kept-alive connection (or one trickling its next request) is closed after this.
# Longer than common clients' pool expiry (aiohttp 15 s, httpx 5 s), so a client never sends
# on a connection the server is closing.
KEEPALIVE_SECS = 75.0


def _bodhi_command() -> str:
    """How the user runs the ``bodhi`` that started this server: ``bodhi`` when that is the
    one on PATH, else its full path (a virtual environment's), else ``python -m companion``.
    The one-file binary is its own executable, whatever name it was started by."""
    started = Path(sys.executable) if frozen() else Path(sys.argv[0])
    if started.name in {"__main__.py", ""} or not started.exists():
        return f"{shlex.quote(sys.executable)} -m companion"
    on_path = shutil.which(started.name)
    if on_path and Path(on_path).resolve() == started.resolve():
        return started.name
    return shlex.quote(str(started.resolve()))


def try_it(settings: Settings) -> str:
    """One command to paste that chats with this server: it signs in as the owner for that
    command only, so no API token is made (or piles up) on each start."""
    model = EMBEDDED_ALIAS if embedded_model() else "MODEL"
    return " ".join([_bodhi_command(), "chat", model, shlex.quote("Say hello"),
                     *reaching_flags(settings)])


def _raise_descriptor_limit() -> None:
    """Raise the open-file limit towards the hard limit: connections, model children,
    databases and logs all need descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def serve(settings: Settings) -> None:
    # Before the log file is opened: an install from an earlier version has it 0644.
    made_private = secure_home(settings.home)
    swept = sweep_home(settings.home)  # half-written temp files of a companion killed mid-write
    log_file = setup_logging(settings.home, settings.log_level, settings.log_stdout)
    if made_private:
        log.warning("%s: took group and other access off %d path(s) that other users could "
                    "read", settings.home, len(made_private))
    if swept:
        log.info("removed %d temporary file(s) left by an interrupted write", len(swept))
    app = await build_app(settings)
    runner = web.AppRunner(app, handler_cancellation=True, access_log_class=AccessLogger,
                           shutdown_timeout=5.0, keepalive_timeout=KEEPALIVE_SECS)
    await runner.setup()
    host, port = settings.host, settings.port
    _raise_descriptor_limit()
    try:
        await GuardedSite(runner, host, port, header_timeout=settings.header_timeout_secs,
                          max_pending=settings.max_pending_connections).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Is another "
                          "companion running? Choose another port with --port or "
                          "BODHI_PORT.") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("Bodhi companion %s listening on %s:%s", __version__, host, port)
    print(f"Bodhi companion {__version__} is ready at {public_url(settings)}\n"
          f"  data directory: {settings.home}\n  log file:       {log_file}\n"
          f"Try it:\n  {try_it(settings)}\n"
          "For scripts and SDKs (the OpenAI-compatible API at /v1), make an API token once:\n"
          f"  {_bodhi_command()} token create --name NAME", flush=True)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()


def run(settings: Settings) -> None:
    asyncio.run(serve(settings))
