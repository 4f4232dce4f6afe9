"""The MCP server registry: what the admin registered, remote or local stdio.

A remote server is an MCP endpoint URL speaking Streamable HTTP, with an auth config that
says what each user's instance must supply (nothing, header or query keys, OAuth). A stdio
server is a command the companion runs as the OS user, which is why only an admin may add or
change one. Secrets (an OAuth client secret, the command's environment) are sealed at rest
and never returned.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from companion.core.errors import BadRequestError, ConflictError, NotFoundError
from companion.core.schema import Schema
from companion.core.secrets_box import SecretBox
from companion.storage.mcp import McpServerRecord, McpServerRepository

CLIENT_SECRET_PURPOSE = "mcp-client-secret"
COMMAND_ENV_PURPOSE = "mcp-command-env"
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$"
# Headers the proxy sets itself; a server's key may not replace them.
RESERVED_HEADERS = frozenset({"host", "content-type", "content-length", "accept", "connection",
                              "mcp-session-id", "mcp-protocol-version", "last-event-id",
                              "transfer-encoding"})


class AuthConfig(Schema):
    """What an instance of the server supplies: ``keys`` name headers or query parameters."""

    type: Literal["none", "header", "query", "oauth"] = "none"
    keys: list[str] = Field(default_factory=list, max_length=10)
    # OAuth: a pre-registered client (the secret is write-only); without one, the client
    # registers itself with the server (RFC 7591).
    client_id: str | None = Field(default=None, max_length=500)
    client_secret: str | None = Field(default=None, max_length=2000)
    scopes: list[str] | None = Field(default=None, max_length=50)

    @field_validator("keys")
    @classmethod
    def _names(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not re.match(HEADER_NAME, key) or key.lower() in RESERVED_HEADERS:
                raise ValueError(f"'{key}' cannot be a credential key name")
        return keys

    def public(self) -> dict[str, Any]:
        return self.model_dump(exclude={"client_secret"})


class ServerBody(Schema):
    """``POST/PUT /bodhi/v1/mcps/servers``: a remote ``url`` or a local stdio ``command``."""

    name: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=1000)
    enabled: bool = True
    url: str | None = Field(default=None, max_length=2000)
    auth_config: AuthConfig | None = None
    command: str | None = Field(default=None, min_length=1, max_length=4096)
    args: list[str] = Field(default_factory=list, max_length=200)
    env: dict[str, str] | None = None      # write-only; absent on update: keep
    cwd: str | None = Field(default=None, max_length=4096)


@dataclass(frozen=True)
class McpServer:
    id: str
    name: str
    description: str | None
    enabled: bool
    kind: Literal["remote", "stdio"]
    url: str | None
    auth: AuthConfig
    command: str | None
    args: tuple[str, ...]
    cwd: str | None
    env_keys: tuple[str, ...]
    created_at: int
    updated_at: int

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": self.id, "name": self.name, "description": self.description,
            "enabled": self.enabled, "kind": self.kind, "url": self.url,
            "auth_config": self.auth.public(), "created_at": self.created_at,
            "updated_at": self.updated_at}
        if self.kind == "stdio":
            shown.update(command=self.command, args=list(self.args), cwd=self.cwd,
                         env_keys=list(self.env_keys))
        return shown

    @property
    def slug(self) -> str:
        """The name as a file name part (the stdio server's log is ``mcp-<slug>.log``)."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")[:40] or self.id[:8]

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "url": self.url}


def normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequestError("A remote MCP server's url must be an http(s) URL with a host.",
                              code="invalid_mcp_url", param="url")
    if parts.username or parts.password:
        raise BadRequestError("Put credentials in the server's auth config, not in its url.",
                              code="invalid_mcp_url", param="url")
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower(),
                          fragment="").geturl()


def _from_record(r: McpServerRecord) -> McpServer:
    command = json.loads(r.command) if r.command else {}
    return McpServer(r.id, r.name, r.description, bool(r.enabled), "stdio" if r.command
                     else "remote", r.url, AuthConfig.model_validate_json(r.auth_config),
                     command.get("command"), tuple(command.get("args", ())),
                     command.get("cwd"), tuple(command.get("env_keys", ())),
                     r.created_at, r.updated_at)


class McpServerService:
    """Registry CRUD; ``on_change(server_id)`` runs after an edit or delete (stop its child)."""

    def __init__(self, repo: McpServerRepository, box: SecretBox,
                 on_change: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._repo = repo
        self._box = box
        self._on_change = on_change

    async def all(self) -> list[McpServer]:
        return [_from_record(r) for r in await self._repo.list_all()]

    async def get(self, server_id: str) -> McpServer:
        return _from_record(await self._record(server_id))

    async def find(self, *, url: str | None = None, name: str | None = None
                   ) -> McpServer | None:
        if url is not None:
            try:
                url = normalise_url(url)
            except BadRequestError:
                return None
        record = await self._repo.find(url=url, name=name)
        return _from_record(record) if record else None

    async def create(self, body: ServerBody) -> McpServer:
        now = int(time.time())
        record = self._record_for(body, None, str(uuid.uuid4()), now)
        await self._check_unique(record)
        await self._repo.insert(record)
        return _from_record(record)

    async def update(self, server_id: str, body: ServerBody) -> McpServer:
        old = await self._record(server_id)
        record = self._record_for(body, old, server_id, old.created_at)
        await self._check_unique(record)
        await self._repo.update(record)
        await self._changed(server_id)
        return _from_record(record)

    async def delete(self, server_id: str) -> None:
        await self._record(server_id)
        await self._repo.delete(server_id)
        await self._changed(server_id)

    def client_secret(self, record: McpServerRecord) -> str | None:
        return self._box.open(record.client_secret, CLIENT_SECRET_PURPOSE) \
            if record.client_secret else None

    async def record(self, server_id: str) -> McpServerRecord:
        """The stored row, sealed columns included (for the proxy and OAuth)."""
        return await self._record(server_id)

    async def save_oauth_client(self, server_id: str, client: dict[str, Any],
                                secret: str | None) -> None:
        """Remember the client registered with the server (RFC 7591) for every user."""
        old = await self._record(server_id)
        sealed = self._box.seal(secret, CLIENT_SECRET_PURPOSE) if secret else None
        await self._repo.update(replace(old, oauth_client=json.dumps(client),
                                        client_secret=sealed or old.client_secret))

    def command_env(self, record: McpServerRecord) -> dict[str, str]:
        if not record.command_env:
            return {}
        opened: dict[str, str] = json.loads(self._box.open(record.command_env,
                                                           COMMAND_ENV_PURPOSE))
        return opened

    async def _changed(self, server_id: str) -> None:
        if self._on_change is not None:
            await self._on_change(server_id)

    async def _record(self, server_id: str) -> McpServerRecord:
        record = await self._repo.get(server_id)
        if record is None:
            raise NotFoundError(f"No MCP server with id {server_id}.", code="mcp_server_not_found")
        return record

    async def _check_unique(self, record: McpServerRecord) -> None:
        for column, value in (("name", record.name), ("url", record.url)):
            if value is None:
                continue
            found = await self._repo.find(**{column: value})
            if found is not None and found.id != record.id:
                raise ConflictError(f"An MCP server with this {column} is already registered "
                                    f"('{found.name}').", code="mcp_server_exists", param=column)

    def _record_for(self, body: ServerBody, old: McpServerRecord | None, server_id: str,
                    created_at: int) -> McpServerRecord:
        if (body.url is None) == (body.command is None):
            raise BadRequestError("Give a remote server's 'url' or a local server's "
                                  "'command', not both.", code="invalid_mcp_server")
        auth = body.auth_config or AuthConfig()
        if body.command is not None and auth.type != "none":
            raise BadRequestError("A local stdio server takes its secrets in 'env'; its "
                                  "auth_config must be none.", code="invalid_mcp_server",
                                  param="auth_config")
        secret = old.client_secret if old and auth.client_secret is None else (
            self._box.seal(auth.client_secret, CLIENT_SECRET_PURPOSE)
            if auth.client_secret else None)
        same_auth = old is not None and old.auth_config == auth.model_copy(
            update={"client_secret": None}).model_dump_json()
        return McpServerRecord(
            server_id, body.name.strip(), body.description, int(body.enabled),
            "stdio" if body.command else "remote",
            normalise_url(body.url) if body.url is not None else None,
            auth.model_copy(update={"client_secret": None}).model_dump_json(),
            secret if auth.type == "oauth" else None,
            old.oauth_client if old and same_auth and old.url == body.url else None,
            self._command_json(body, old), self._sealed_env(body, old), created_at,
            int(time.time()))

    @staticmethod
    def _command_json(body: ServerBody, old: McpServerRecord | None) -> str | None:
        if body.command is None:
            return None
        kept = json.loads(old.command).get("env_keys", []) if old and old.command else []
        keys = kept if body.env is None else sorted(body.env)
        return json.dumps({"command": body.command, "args": body.args, "cwd": body.cwd,
                           "env_keys": keys})

    def _sealed_env(self, body: ServerBody, old: McpServerRecord | None) -> str | None:
        if body.command is None:
            return None
        if body.env is None:
            return old.command_env if old else None
        return self._box.seal(json.dumps(body.env), COMMAND_ENV_PURPOSE)
