"""``bodhi mcp ...``: register MCP servers and connect the owner's instances from a terminal.

It writes the database directly as the owner (like ``bodhi token``), so the server need not
run; a running server sees the change on its next MCP request. Secret values (a server's
key, a stdio command's environment) are never taken from the command line, which every
local user can read: each ``--key NAME`` / ``--env NAME`` reads its value from the terminal
without echo, or one line each from standard input when it is not a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from companion.auth.identity import checked_box
from companion.auth.principal import OWNER_USER_ID
from companion.cli.database import with_database
from companion.cli.owner_link import open_owner_link
from companion.core.errors import BadRequestError, NotFoundError
from companion.core.settings import Settings, public_url
from companion.mcp.instances import InstanceBody, McpInstance, McpInstanceService
from companion.mcp.servers import AuthConfig, McpServerService, ServerBody
from companion.storage import Database
from companion.storage.mcp import McpInstanceRepository, McpServerRepository

T = TypeVar("T")


def add_parsers(commands: Any, settings: argparse.ArgumentParser) -> None:
    mcp = commands.add_parser("mcp", help="manage MCP servers and your connections to them"
                              ).add_subparsers(dest="mcp_command", required=True,
                                               metavar="ACTION")
    server = mcp.add_parser("add-server", parents=[settings],
                            help="register a remote (--url) or local stdio (--command) server")
    server.add_argument("name")
    where = server.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the server's Streamable HTTP endpoint")
    where.add_argument("--command", dest="stdio_command", metavar="EXECUTABLE",
                       help="a local stdio server's executable")
    server.add_argument("--args", nargs=argparse.REMAINDER, default=[], metavar="ARG",
                        help="last: every word after it is an argument for --command "
                             "(--command npx --args -y @some/server)")
    server.add_argument("--cwd", help="working directory for --command")
    server.add_argument("--env", action="append", default=[], metavar="NAME",
                        help="an environment variable for --command; its value is read "
                             "without echo (repeat for more)")
    server.add_argument("--auth", choices=["none", "header", "query", "oauth"], default="none")
    server.add_argument("--auth-key", action="append", default=[], metavar="NAME",
                        help="a header (--auth header) or query parameter (--auth query) each "
                             "connection supplies")
    server.add_argument("--client-id", help="OAuth: a client registered by hand (default: "
                                            "the companion registers itself)")
    server.add_argument("--description")
    mcp.add_parser("servers", parents=[settings], help="list registered servers")
    remove = mcp.add_parser("remove-server", parents=[settings], help="remove a server and "
                            "every connection to it")
    remove.add_argument("name")
    connect = mcp.add_parser("connect", parents=[settings],
                             help="connect to a registered server (an instance of yours)")
    connect.add_argument("server", help="the server's name")
    connect.add_argument("--slug", required=True, help="[A-Za-z0-9-]{1,24}, unique to you")
    connect.add_argument("--name", help="a display name (default: the server's name)")
    connect.add_argument("--key", action="append", default=[], metavar="NAME",
                         help="a credential the server needs; its value is read without echo")
    mcp.add_parser("list", parents=[settings], help="list your connections")
    disconnect = mcp.add_parser("disconnect", parents=[settings], help="remove a connection")
    disconnect.add_argument("slug")
    login = mcp.add_parser("login", parents=[settings], help="log a connection in to its "
                           "OAuth server, in the browser (the companion must be running)")
    login.add_argument("slug")
    login.add_argument("--no-browser", action="store_true", help="only print the link")


def _secret(name: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"value of {name}: ")
    return sys.stdin.readline().rstrip("\r\n")


async def _with_mcp(settings: Settings,
                    action: Callable[[McpServerService, McpInstanceService], Awaitable[T]]
                    ) -> T:
    async def run(db: Database) -> T:
        box = await checked_box(settings.home, settings.encryption_key, db)
        servers = McpServerService(McpServerRepository(db), box)
        return await action(servers, McpInstanceService(McpInstanceRepository(db), servers,
                                                        box))

    return await with_database(settings, run)


async def _server_named(servers: McpServerService, name: str) -> Any:
    server = await servers.find(name=name)
    if server is None:
        raise NotFoundError(f"No MCP server named '{name}' (see: bodhi mcp servers).")
    return server


def command(args: argparse.Namespace, settings: Settings) -> None:
    action = args.mcp_command
    if action == "add-server":
        body = ServerBody(
            name=args.name, description=args.description, url=args.url,
            command=args.stdio_command,
            args=args.args, cwd=args.cwd,
            env={n: _secret(n) for n in args.env} if args.stdio_command else None,
            auth_config=AuthConfig(type=args.auth, keys=args.auth_key,
                                   client_id=args.client_id))
        made = asyncio.run(_with_mcp(settings, lambda s, _: s.create(body)))
        print(f"Registered MCP server '{made.name}' ({made.kind}, id {made.id}).")
    elif action == "servers":
        for server in asyncio.run(_with_mcp(settings, lambda s, _: s.all())):
            where = server.url or " ".join([server.command or "", *server.args])
            state = "enabled" if server.enabled else "disabled"
            print(f"{server.name:<20} {server.kind:<7} {state:<9} {where}")
    elif action == "remove-server":
        async def remove(s: McpServerService, _: McpInstanceService) -> None:
            await s.delete((await _server_named(s, args.name)).id)
        asyncio.run(_with_mcp(settings, remove))
        print(f"Removed MCP server '{args.name}'.")
    else:
        _instance_command(args, settings)


def _instance_command(args: argparse.Namespace, settings: Settings) -> None:
    if args.mcp_command == "connect":
        async def connect(s: McpServerService, i: McpInstanceService) -> Any:
            server = await _server_named(s, args.server)
            return await i.create(OWNER_USER_ID, InstanceBody(
                server_id=server.id, name=args.name or server.name, slug=args.slug,
                credentials={n: _secret(n) for n in args.key}))
        made = asyncio.run(_with_mcp(settings, connect))
        login = f" Its server uses OAuth: log in with `bodhi mcp login {made.slug}`." \
            if made.auth_status == "needs_login" else ""
        print(f"Connected '{made.slug}' (id {made.id}); MCP endpoint "
              f"{public_url(settings)}/bodhi/v1/mcps/{made.id}/mcp.{login}")
    elif args.mcp_command == "list":
        for inst in asyncio.run(_with_mcp(settings, lambda _, i: i.of_user(OWNER_USER_ID))):
            state = inst.auth_status if inst.live else "disabled"
            print(f"{inst.slug:<24} {inst.server.name:<20} {state:<12} {inst.id}")
    elif args.mcp_command == "login":
        made = asyncio.run(_with_mcp(settings, lambda _, i: _own(i, args.slug)))
        if made.server.auth.type != "oauth":
            raise BadRequestError(f"'{args.slug}' needs no login: its server does not use "
                                  "OAuth.", code="mcp_not_oauth")
        open_owner_link(settings, then=f"/bodhi/v1/mcps/{made.id}/oauth/login",
                        no_browser=args.no_browser,
                        why=f"Open this to log '{args.slug}' in to {made.server.name}")
    else:
        async def disconnect(_: McpServerService, i: McpInstanceService) -> None:
            await i.delete(OWNER_USER_ID, (await _own(i, args.slug)).id)
        asyncio.run(_with_mcp(settings, disconnect))
        print(f"Removed the connection '{args.slug}'.")


async def _own(instances: McpInstanceService, slug: str) -> McpInstance:
    found = [x for x in await instances.of_user(OWNER_USER_ID) if x.slug == slug]
    if not found:
        raise NotFoundError(f"You have no MCP connection '{slug}' (see: bodhi mcp list).")
    return found[0]
