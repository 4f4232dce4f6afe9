"""``bodhi status``: is the companion running, where, which version, how people sign in, which
models are loaded, and whether the browser extension is paired."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from companion import __version__
from companion.cli.client import API_TOKEN_ENV, CompanionClient
from companion.core.settings import Settings
from companion.storage import Database
from companion.storage.extension import ExtensionCredentialRecord, ExtensionRepository

PAIR_HINT = "pair it from the extension's popup, or type the code from 'bodhi pair' there"


def add_token_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default=None, metavar="TOKEN",
                        help=f"an API token to use (default: ${API_TOKEN_ENV}, else sign in "
                             "as the owner for this command only)")


def token_of(args: argparse.Namespace) -> str | None:
    return args.token or os.environ.get(API_TOKEN_ENV) or None


def add_parser(commands: Any, settings: argparse.ArgumentParser) -> None:
    status = commands.add_parser(
        "status", parents=[settings], usage="%(prog)s [options]",
        help="is the companion running, and what it serves",
        description="Show whether the companion is running, its URL and version, how people "
                    "sign in, the loaded models and whether the browser extension is paired. "
                    "Exits 1 when it is not running.")
    add_token_flag(status)


def version_note(version: object) -> str:
    if version == __version__:
        return str(version)
    return f"{version} (this bodhi command is {__version__}: restart the companion " \
           "to run the same version)"


def loaded_models(client: CompanionClient) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = client.get_json("/bodhi/v1/models/loaded")["data"]
    return loaded


def paired_extensions(settings: Settings) -> list[ExtensionCredentialRecord]:
    """The active extension credentials; none when there is no database yet."""
    if not settings.db_path.exists():
        return []

    async def read() -> list[ExtensionCredentialRecord]:
        db = await Database.open(settings.db_path)
        try:
            return await ExtensionRepository(db).list_credentials()
        finally:
            await db.close()

    return [c for c in asyncio.run(read()) if c.status == "active"]


def pairing_text(settings: Settings) -> str:
    paired = paired_extensions(settings)
    if not paired:
        return f"not paired ({PAIR_HINT})"
    newest = max(paired, key=lambda c: c.created_at)
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.created_at))
    browser = f"{newest.browser}, " if newest.browser else ""
    more = f" and {len(paired) - 1} more" if len(paired) > 1 else ""
    return f"paired ({browser}since {since}){more}"


_MODES = {"local": "local (only you, as the owner of this install)",
          "oidc": "oidc (accounts of an OpenID Connect provider)"}


def mode_text(info: dict[str, Any]) -> str:
    mode = str(info.get("auth_mode"))
    shown = _MODES.get(mode, mode)
    return shown if info.get("status") == "ready" else f"{shown}, not set up yet"


def _loaded_text(loaded: list[dict[str, Any]]) -> str:
    if not loaded:
        return "none (a model loads on its first request)"
    return ", ".join(f"{m['alias']} ({m['state']})" for m in loaded)


def command(args: argparse.Namespace, settings: Settings) -> int:
    with CompanionClient(settings, token_of(args)) as client:
        info = client.running_info()
        client.sign_in()
        loaded = loaded_models(client)
    rows = [("version", version_note(info.get("version"))),
            ("sign-in mode", mode_text(info)),
            ("loaded models", _loaded_text(loaded)),
            ("extension", pairing_text(settings)),
            ("data directory", str(settings.home))]
    print(f"Bodhi companion is running at {client.url}")
    for label, value in rows:
        print(f"  {label + ':':<16}{value}")
    return 0
