"""``bodhi api-models ...``: remote API models on the running companion (it holds them in
memory, so the commands go through its API, signed in as the owner or with ``--token``).

The provider key is never taken from the command line, which every local user can read:
``--key`` reads it from the terminal without echo, or one line from standard input when that
is not a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from companion.cli.client import CompanionClient, api_error, not_running
from companion.cli.status import add_token_flag, token_of
from companion.core.settings import Settings

PATH = "/bodhi/v1/models/api"


def add_parser(commands: Any, settings: argparse.ArgumentParser) -> None:
    api = commands.add_parser("api-models", help="manage remote API models (providers)"
                              ).add_subparsers(dest="api_command", required=True,
                                               metavar="ACTION")
    add = api.add_parser("add", parents=[settings], help="add a provider and its models")
    add.add_argument("id", help="a name for the record ([A-Za-z0-9._-])")
    add.add_argument("--format", dest="api_format", default="openai",
                     help="the provider's API format (default: openai)")
    add.add_argument("--base-url", required=True, help="e.g. https://api.openai.com/v1")
    add.add_argument("--model", dest="models", action="append", default=[], metavar="ID",
                     help="a provider model id clients may ask for (repeat for more)")
    add.add_argument("--prefix", help="put before each model id in the names clients use")
    add.add_argument("--forward-all", action="store_true",
                     help="send any name that starts with --prefix to this provider")
    add.add_argument("--key", action="store_true",
                     help="read the provider's API key without echo (or from standard input)")
    add_token_flag(add)
    listing = api.add_parser("list", parents=[settings], help="list the records")
    add_token_flag(listing)
    remove = api.add_parser("remove", parents=[settings], help="remove a record")
    remove.add_argument("id")
    add_token_flag(remove)


def _key() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("provider API key: ")
    return sys.stdin.readline().rstrip("\r\n")


def _call(client: CompanionClient, method: str, path: str,
          body: dict[str, Any] | None = None) -> Any:
    import httpx  # loaded by the command itself: ``bodhi serve`` builds this parser too

    try:
        response = client.http.request(method, path, json=body)
    except httpx.TransportError as exc:
        raise not_running(client.settings) from exc
    if response.status_code >= 300:
        raise api_error(response)
    return response.json() if response.content else None


def command(args: argparse.Namespace, settings: Settings) -> int:
    with CompanionClient(settings, token_of(args)) as client:
        client.running_info()
        client.sign_in()
        if args.api_command == "add":
            body = {"id": args.id, "api_format": args.api_format, "base_url": args.base_url,
                    "models": args.models, "prefix": args.prefix,
                    "forward_all_with_prefix": args.forward_all}
            if args.key:
                body["api_key"] = _key()
            made = _call(client, "POST", PATH, body)
            names = ", ".join((made["prefix"] or "") + m for m in made["models"])
            print(f"Added '{made['id']}' ({made['api_format']}, {made['base_url']}): "
                  f"{names or 'every name under ' + str(made['prefix'])}")
        elif args.api_command == "list":
            for record in _call(client, "GET", PATH + "?page_size=100")["data"]:
                key = "key " + (record["api_key_hint"] or "set") if record["has_api_key"] \
                    else "no key"
                models = ", ".join(record["models"]) or "*"
                print(f"{record['id']:<20} {record['api_format']:<9} {key:<12} "
                      f"{record['base_url']}  {record['prefix'] or ''}[{models}]")
        else:
            _call(client, "DELETE", f"{PATH}/{args.id}")
            print(f"Removed '{args.id}'.")
    return 0
