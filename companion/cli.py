"""The ``bodhi`` command line. Settings flags are generated from the settings table."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from companion import __version__
from companion.app import DB_FILE
from companion.auth import ApiTokenService, TokenScope, ensure_owner_secret
from companion.auth.tokens import ApiToken
from companion.errors import BodhiError
from companion.settings import SETTINGS, Settings, load_settings
from companion.storage import ApiTokenRepository, Database


def _settings_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (command line > environment > "
                                      "$BODHI_HOME/settings.yaml > default)")
    for setting in SETTINGS:
        default = setting.default()
        group.add_argument(setting.flag, dest=setting.name, default=None, metavar="VALUE",
                           help=f"{setting.help} [env {setting.env_var}; default {default!r}]")
    return parent


def build_parser() -> argparse.ArgumentParser:
    settings = _settings_flags()
    parser = argparse.ArgumentParser(prog="bodhi", description="Bodhi companion: your local "
                                     "LLM resource server.")
    parser.add_argument("--version", action="version", version=f"bodhi {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", parents=[settings], help="run the server in the foreground",
                        description="Run the companion in the foreground.")
    commands.add_parser("config", parents=[settings], help="show effective settings",
                        description="Show every setting's effective value and its source.")
    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION")
    create = token.add_parser("create", parents=[settings], help="create a token; printed once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", choices=[s.value for s in TokenScope],
                        default=TokenScope.USER.value)
    token.add_parser("list", parents=[settings], help="list tokens")
    revoke = token.add_parser("revoke", parents=[settings], help="deactivate a token")
    revoke.add_argument("id")
    pull = commands.add_parser("pull", parents=[settings], help="download a model file",
                               description="Download a file of a Hugging Face repository into "
                               "the model cache, with a progress bar; resumes partial downloads.")
    pull.add_argument("repo", help="repository, e.g. bartowski/Llama-3.2-1B-Instruct-GGUF")
    pull.add_argument("filename", help="file in the repository, e.g. model-Q4_K_M.gguf")
    return parser


def _pull_command(args: argparse.Namespace, settings: Settings) -> None:
    from companion.pull_cli import pull

    path = asyncio.run(pull(settings, args.repo, args.filename))
    print(path)


def _cli_settings(args: argparse.Namespace) -> Settings:
    return load_settings({s.name: getattr(args, s.name, None) for s in SETTINGS})


def _show_config(settings: Settings) -> None:
    width = max(len(s.name) for s in SETTINGS)
    for setting, resolved in settings.items():
        print(f"{setting.name:<{width}}  {resolved.value!s:<30}  ({resolved.source.value})")


async def _with_tokens(settings: Settings,
                       action: Callable[[ApiTokenService], Awaitable[Any]]) -> Any:
    ensure_owner_secret(settings.home)
    db = await Database.open(settings.home / DB_FILE)
    try:
        return await action(ApiTokenService(ApiTokenRepository(db)))
    finally:
        await db.close()


def _when(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch)) if epoch else "-"


def _print_tokens(tokens: list[ApiToken]) -> None:
    if not tokens:
        print("no API tokens; create one with: bodhi token create --name NAME")
        return
    print(f"{'ID':<36}  {'NAME':<24}  {'SCOPE':<22}  {'STATUS':<8}  {'CREATED':<16}  LAST USED")
    for t in tokens:
        print(f"{t.id:<36}  {t.name[:24]:<24}  {' '.join(sorted(t.scopes)):<22}  "
              f"{'active' if t.active else 'inactive':<8}  {_when(t.created_at):<16}  "
              f"{_when(t.last_used_at)}")


def _token_command(args: argparse.Namespace, settings: Settings) -> None:
    if args.token_command == "create":
        token, raw = asyncio.run(_with_tokens(
            settings, lambda s: s.create(args.name, TokenScope(args.scope))))
        print(f"Created API token '{token.name}' ({token.id}). It is shown only once:",
              file=sys.stderr)
        print(raw)
    elif args.token_command == "list":
        _print_tokens(asyncio.run(_with_tokens(settings, lambda s: s.list())))
    else:
        token = asyncio.run(_with_tokens(settings, lambda s: s.revoke(args.id)))
        print(f"Revoked API token '{token.name}' ({token.id}).")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _cli_settings(args)
        if args.command == "serve":
            from companion.server import run

            run(settings)
        elif args.command == "config":
            _show_config(settings)
        elif args.command == "pull":
            _pull_command(args, settings)
        else:
            _token_command(args, settings)
    except BodhiError as exc:
        print(f"bodhi: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
