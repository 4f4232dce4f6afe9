"""The ``bodhi`` command line. Settings flags are generated from the settings table."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from companion import __version__
from companion.access.extension import PAIRING_CODE_TTL_SECS
from companion.auth import ApiTokenService, TokenScope
from companion.auth.identity import checked_box, open_identity
from companion.auth.setup import AuthMode, OidcConfig, SetupState
from companion.auth.sign_in_mode import ModeChange
from companion.auth.tokens import ApiToken
from companion.cli import api_models, chat, doctor, models, status
from companion.cli import extension as extension_cli
from companion.cli import mcp as mcp_cli
from companion.cli.database import new_pairing_code, with_database, with_oauth_clients
from companion.cli.owner_link import OPEN_NO_BROWSER_ENV, open_owner_link
from companion.cli.parser import CliParser
from companion.core.errors import BadRequestError, BodhiError
from companion.core.settings import (
    SETTINGS,
    Settings,
    Source,
    load_settings,
    plain_value,
    settings_markdown,
    shown_value,
)
from companion.storage import ApiTokenRepository, Database, SettingOverrideRepository

# Environment inputs of one command, named after it: not settings (not in the settings table,
# the settings API or settings.yaml), so they do not look like one.
SETUP_CLIENT_SECRET_ENV = "BODHI_SETUP_CLIENT_SECRET"


def _settings_flags() -> CliParser:
    parent = CliParser(add_help=False)
    group = parent.add_argument_group("settings (command line > environment > database "
                                      "edits > $BODHI_HOME/settings.yaml > default)")
    for setting in SETTINGS:
        default = setting.default()
        group.add_argument(setting.flag, dest=setting.name, default=None, metavar="VALUE",
                           help=f"{setting.help} [env {setting.env_var}; default "
                                f"{plain_value(default)!r}]")
    return parent


def build_parser() -> argparse.ArgumentParser:
    settings = _settings_flags()
    parser = CliParser(prog="bodhi", description="Bodhi companion: your local LLM resource "
                       "server.")
    parser.add_argument("--version", action="version", version=f"bodhi {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", parents=[settings], help="run the server in the foreground",
                        description="Run the companion in the foreground.")
    for module in (status, models, api_models, chat, doctor):
        module.add_parser(commands, settings)
    config = commands.add_parser("config", parents=[settings], help="show effective settings",
                                 description="Show every setting's effective value and its "
                                 "source.")
    config.add_argument("--markdown", action="store_true",
                        help="print the table of all settings (as in docs/usage.md) instead")
    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION")
    create = token.add_parser("create", parents=[settings], help="create a token; printed once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", choices=[s.value for s in TokenScope],
                        default=TokenScope.USER.value)
    create.add_argument("--models", nargs="+", metavar="MODEL",
                        help="only these models (default: every model)")
    create.add_argument("--expires-in", type=int, metavar="SECS", help="expire after SECS")
    create.add_argument("--mcps", nargs="+", metavar="ID",
                        help="MCP instances it may use: 'all' or instance ids (default: none)")
    token.add_parser("list", parents=[settings], help="list tokens")
    revoke = token.add_parser("revoke", parents=[settings], help="deactivate a token")
    revoke.add_argument("id")
    pull = commands.add_parser("pull", parents=[settings], help="download a model file",
                               description="Download a file of a Hugging Face repository into "
                               "the model cache, with a progress bar; resumes partial downloads.")
    pull.add_argument("repo", help="repository, e.g. bartowski/Llama-3.2-1B-Instruct-GGUF")
    pull.add_argument("filename", help="file in the repository, e.g. model-Q4_K_M.gguf")
    _add_identity_commands(commands, settings)
    _app_parsers(commands, settings)
    _native_host_parsers(commands, settings)
    mcp_cli.add_parsers(commands, settings)
    extension_cli.add_parsers(commands)
    return parser


def _app_parsers(commands: Any, settings: argparse.ArgumentParser) -> None:
    commands.add_parser("pair", parents=[settings], help="print a one-time code that pairs "
                        "the browser extension", description="Print a short code (valid 5 "
                        "minutes, single use) to type into the extension's popup.")
    app = commands.add_parser("app", help="manage OAuth apps").add_subparsers(
        dest="app_command", required=True, metavar="ACTION")
    register = app.add_parser("register", parents=[settings],
                              help="register an OAuth client; prints its client_id")
    register.add_argument("--name", required=True)
    register.add_argument("--redirect-uri", required=True, action="append",
                          dest="redirect_uris", help="exact redirect URI (repeatable)")
    app.add_parser("list", parents=[settings], help="list OAuth clients")
    remove = app.add_parser("remove", parents=[settings], help="remove an OAuth client")
    remove.add_argument("client_id")


def _add_identity_commands(commands: Any, settings: argparse.ArgumentParser) -> None:
    setup = commands.add_parser(
        "setup", parents=[settings], help="choose or change how people sign in",
        description="Choose how people sign in: local (only you, the owner of BODHI_HOME; "
                    "the default) or oidc (any OpenID Connect provider; the first user to "
                    "sign in becomes admin). Shows what a change does and asks before it "
                    "changes who may sign in. The client secret may also come from "
                    f"{SETUP_CLIENT_SECRET_ENV}.")
    setup.add_argument("--mode", choices=[m.value for m in AuthMode], required=True)
    setup.add_argument("--name", help="this server's name (default: keep it)")
    setup.add_argument("--yes", action="store_true",
                       help="apply a change of who may sign in without asking")
    setup.add_argument("--issuer", help="OIDC issuer URL")
    setup.add_argument("--client-id", help="OIDC client id")
    setup.add_argument("--client-secret",
                       help=f"OIDC client secret (default: ${SETUP_CLIENT_SECRET_ENV})")
    open_ = commands.add_parser(
        "open", parents=[settings], help="sign in to the web UI as the owner",
        description="Print (and open in a browser, where there is one) a one-time owner "
                    "sign-in link, valid for 60 seconds.")
    open_.add_argument("--no-browser", action="store_true",
                       help=f"only print the link (also when ${OPEN_NO_BROWSER_ENV} is set)")


def _pull_command(args: argparse.Namespace, settings: Settings) -> None:
    from companion.cli.pull import pull

    path = asyncio.run(pull(settings, args.repo, args.filename))
    print(path)


def _native_host_parsers(commands: Any, settings: argparse.ArgumentParser) -> None:
    from native_host.install import BROWSERS

    for verb in ("install", "uninstall"):
        sub = commands.add_parser(
            f"{verb}-native-host", parents=[settings] if verb == "install" else [],
            help=f"{verb} the browser extension's native-messaging host",
            description=f"{verb.capitalize()} the native-messaging host manifest (and its "
            "launcher) for the Bodhi browser extension.")
        sub.add_argument("--browser", choices=[*BROWSERS, "all"], action="append",
                         dest="browsers", metavar="BROWSER",
                         help=f"{', '.join(BROWSERS)} or all (repeatable; default: every "
                              "browser found)")
        sub.add_argument("--user-data-dir", type=Path, default=None, metavar="DIR",
                         help="a Chromium-family profile folder: use DIR/NativeMessagingHosts")


def _cli_settings(args: argparse.Namespace) -> Settings:
    return load_settings({s.name: getattr(args, s.name, None) for s in SETTINGS})


def _show_config(settings: Settings) -> None:
    if settings.db_path.exists():
        settings.apply_database(asyncio.run(with_database(
            settings, lambda db: SettingOverrideRepository(db).all())))
    width = max(len(s.name) for s in SETTINGS)
    for setting, resolved in settings.items():
        shown = shown_value(setting, resolved.value)
        print(f"{setting.name:<{width}}  {shown!s:<30}  ({resolved.source.value})")


async def _with_tokens(settings: Settings,
                       action: Callable[[ApiTokenService], Awaitable[Any]]) -> Any:
    return await with_database(settings, lambda db: action(ApiTokenService(ApiTokenRepository(db))))


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
        token, raw = asyncio.run(_with_tokens(settings, lambda s: s.create(
            args.name, TokenScope(args.scope), models=args.models,
            expires_in=args.expires_in,
            mcps="all" if args.mcps == ["all"] else args.mcps)))
        print(f"Created API token '{token.name}' ({token.id}). It is shown only once:",
              file=sys.stderr)
        print(raw)
    elif args.token_command == "list":
        _print_tokens(asyncio.run(_with_tokens(settings, lambda s: s.list())))
    else:
        token = asyncio.run(_with_tokens(settings, lambda s: s.revoke(args.id)))
        print(f"Revoked API token '{token.name}' ({token.id}).")


def _pair_command(settings: Settings) -> None:
    code = asyncio.run(new_pairing_code(settings))
    print(f"Type this code into the Bodhi extension's popup within "
          f"{PAIRING_CODE_TTL_SECS // 60} minutes (it works once):", file=sys.stderr)
    print(code)


def _app_command(args: argparse.Namespace, settings: Settings) -> None:
    if args.app_command == "register":
        client = asyncio.run(with_oauth_clients(
            settings, lambda s: s.register(args.name, args.redirect_uris)))
        print(f"Registered OAuth client '{client.name}'. Its client_id:", file=sys.stderr)
        print(client.client_id)
    elif args.app_command == "list":
        clients = asyncio.run(with_oauth_clients(settings, lambda s: s.clients()))
        if not clients:
            print("no OAuth clients; register one with: bodhi app register --name NAME "
                  "--redirect-uri URI")
        for c in clients:
            print(f"{c.client_id}  {c.name[:30]:<30}  {' '.join(c.redirect_uris)}")
    else:
        asyncio.run(with_oauth_clients(settings, lambda s: s.remove(args.client_id)))
        print(f"Removed OAuth client {args.client_id}.")


def _confirmed(change: ModeChange, yes: bool) -> bool:
    print("This changes how people sign in:" if change.needs_confirmation else "Changes:")
    for line in change.describe():
        print(f"  - {line}")
    if not change.needs_confirmation or yes:
        return True
    if not sys.stdin.isatty():
        return False
    return input("Apply? [y/N] ").strip().lower() in {"y", "yes"}


def _setup_command(args: argparse.Namespace, settings: Settings) -> None:
    mode = AuthMode(args.mode)
    oidc = None
    if mode is AuthMode.OIDC:
        secret = args.client_secret or os.environ.get(SETUP_CLIENT_SECRET_ENV)
        oidc = OidcConfig(args.issuer or "", args.client_id or "", secret)

    async def run_setup(db: Database) -> SetupState:
        box = await checked_box(settings.home, settings.encryption_key, db)
        identity = await open_identity(settings, db,
                                       ApiTokenService(ApiTokenRepository(db)), box)
        try:
            change = await identity.modes.plan(mode, args.name, oidc)
            if not _confirmed(change, args.yes):
                raise BadRequestError("Nothing changed: confirm the change, or run again "
                                      "with --yes.", code="setup_error-not_confirmed")
            return await identity.modes.apply(change)
        finally:
            await identity.close()

    state = asyncio.run(with_database(settings, run_setup))
    print(f"Set up '{state.name}' in {state.auth_mode.value} mode.")


def _open_command(args: argparse.Namespace, settings: Settings) -> None:
    open_owner_link(settings, no_browser=args.no_browser)


# Settings the native host needs to find this companion; baked into its launcher when they
# were given explicitly (the browser starts the host with the browser's environment).
_HOST_SETTINGS = (Settings.host, Settings.port, Settings.public_host, Settings.hf_home)


def _native_host_command(args: argparse.Namespace, settings: Settings) -> None:
    from native_host import install

    if args.command == "uninstall-native-host":
        removed = install.uninstall(args.browsers or "all", user_data_dir=args.user_data_dir)
        for item in removed:
            print(f"removed {item.browser}: {item.manifest}")
        if not removed:
            print("no native host manifest was installed")
        return
    env = {Settings.home.env_var: str(settings.home.resolve())}
    env.update({row.env_var: str(settings.resolved(row.name).value) for row in _HOST_SETTINGS
                if settings.source(row.name) in {Source.COMMAND_LINE, Source.ENVIRONMENT}})
    for item in install.install(args.browsers or "all", env, user_data_dir=args.user_data_dir):
        key = f" (registry HKCU\\{item.registry_key})" if item.registry_key else ""
        print(f"installed {item.browser}: {item.manifest}{key}")


# Commands with a module of their own: ``command(args, settings)`` returns the exit status.
_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "status": status.command, "models": models.command, "chat": chat.command,
    "doctor": doctor.command, "api-models": api_models.command}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _cli_settings(args)
        if args.command in _COMMANDS:
            return _COMMANDS[args.command](args, settings)
        if args.command == "serve":
            from companion.server import run

            run(settings)
        elif args.command == "config":
            if args.markdown:
                print(settings_markdown(), end="")
            else:
                _show_config(settings)
        elif args.command == "pair":
            _pair_command(settings)
        elif args.command == "app":
            _app_command(args, settings)
        elif args.command == "setup":
            _setup_command(args, settings)
        elif args.command == "open":
            _open_command(args, settings)
        elif args.command == "pull":
            _pull_command(args, settings)
        elif args.command == "mcp":
            mcp_cli.command(args, settings)
        elif args.command == "extension":
            extension_cli.command(args)
        elif args.command.endswith("-native-host"):
            _native_host_command(args, settings)
        else:
            _token_command(args, settings)
    except BodhiError as exc:
        print(f"bodhi: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
