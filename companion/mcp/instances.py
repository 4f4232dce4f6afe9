"""Users' MCP instances: one user's connection to one registered server.

An instance holds what its server's auth config asks for — header or query keys, or an OAuth
token set — sealed at rest and never returned (only the names of the keys set are shown), a
tool allow-list and the server's tools as last fetched. ``usable`` is the one check every
proxied request passes: the caller may use the instance (owner, token grant or app grant) and
neither the instance nor its server is disabled.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import Field

from companion.auth.principal import Principal
from companion.core.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError
from companion.core.schema import Schema
from companion.core.secrets_box import SecretBox
from companion.mcp.servers import McpServer, McpServerService
from companion.storage.mcp import McpInstanceRecord, McpInstanceRepository

SLUG = r"^[A-Za-z0-9-]{1,24}$"
MAX_CREDENTIAL = 8192


class InstanceBody(Schema):
    """``POST /bodhi/v1/mcps``; on ``PUT`` absent fields keep their value."""

    server_id: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=64)
    slug: str | None = Field(default=None, pattern=SLUG)
    enabled: bool | None = None
    # Write-only: {key name: value}; a null value removes the key.
    credentials: dict[str, str | None] | None = None


@dataclass(frozen=True)
class McpInstance:
    id: str
    user_id: str
    server: McpServer
    name: str
    slug: str
    enabled: bool
    credential_keys: tuple[str, ...]
    auth_status: str            # ready | needs_login
    auth_error: str | None
    allowed_tools: frozenset[str] | None
    tools: list[dict[str, Any]] | None
    tools_fetched_at: int | None
    created_at: int
    updated_at: int

    @property
    def live(self) -> bool:
        return self.enabled and self.server.enabled

    def allows_tool(self, name: str) -> bool:
        return self.allowed_tools is None or name in self.allowed_tools

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "server_id": self.server.id, "server": self.server.summary(),
                "name": self.name, "slug": self.slug, "enabled": self.enabled,
                "server_enabled": self.server.enabled,
                "credential_keys": list(self.credential_keys), "auth_status": self.auth_status,
                "auth_error": self.auth_error,
                "allowed_tools": None if self.allowed_tools is None
                else sorted(self.allowed_tools),
                "mcp_path": f"/bodhi/v1/mcps/{self.id}/mcp",
                "created_at": self.created_at, "updated_at": self.updated_at}

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "slug": self.slug,
                "server": self.server.name}


def _purpose(instance_id: str) -> str:
    return f"mcp-credentials:{instance_id}"


class McpInstanceService:
    def __init__(self, repo: McpInstanceRepository, servers: McpServerService,
                 box: SecretBox) -> None:
        self._repo = repo
        self._servers = servers
        self._box = box

    async def of_user(self, user_id: str) -> list[McpInstance]:
        servers = {s.id: s for s in await self._servers.all()}
        return [self._from_record(r, servers[r.server_id])
                for r in await self._repo.list_for_user(user_id) if r.server_id in servers]

    async def get_own(self, user_id: str, instance_id: str) -> McpInstance:
        record = await self._repo.get(instance_id)
        if record is None or record.user_id != user_id:
            raise NotFoundError(f"No MCP instance with id {instance_id}.",
                                code="mcp_instance_not_found")
        return self._from_record(record, await self._servers.get(record.server_id))

    async def usable(self, caller: Principal, instance_id: str) -> McpInstance:
        """The instance, if this caller may use it now: 404 outside its grant, 403 disabled."""
        if caller.user_id is None or not caller.may_use_mcp(instance_id):
            raise NotFoundError(f"No MCP instance with id {instance_id}.",
                                code="mcp_instance_not_found")
        instance = await self.get_own(caller.user_id, instance_id)
        if not instance.server.enabled:
            raise ForbiddenError(f"The MCP server '{instance.server.name}' is disabled.",
                                 code="mcp_server_disabled")
        if not instance.enabled:
            raise ForbiddenError(f"The MCP instance '{instance.slug}' is disabled.",
                                 code="mcp_instance_disabled")
        return instance

    async def granted(self, caller: Principal) -> list[McpInstance]:
        """The live instances this caller may use (an app's grant, a token's)."""
        if caller.user_id is None:
            return []
        return [i for i in await self.of_user(caller.user_id)
                if i.live and caller.may_use_mcp(i.id)]

    async def describe(self, user_id: str, ids: tuple[str, ...]) -> list[dict[str, Any]]:
        """Summaries of the given instances that still exist (for grants)."""
        own = {i.id: i for i in await self.of_user(user_id)}
        return [own[i].summary() for i in ids if i in own]

    # An app asks for servers ({"url": ...} or {"name": ...}); the user binds instances.
    async def candidates(self, user_id: str, asks: Sequence[Mapping[str, str]]
                         ) -> list[dict[str, Any]]:
        """For each server asked for: the server (None: not registered) and the user's live
        instances of it, for the consent window."""
        mine = await self.of_user(user_id)
        shown = []
        for ask in asks:
            server = await self._servers.find(url=ask.get("url"), name=ask.get("name"))
            shown.append({"requested": dict(ask),
                          "server": server.summary() if server else None,
                          "instances": [i.summary() for i in mine
                                        if server and i.server.id == server.id and i.live]})
        return shown

    async def check_binding(self, user_id: str, asks: Sequence[Mapping[str, str]],
                            instance_ids: Sequence[str]) -> None:
        """Each bound instance is the user's, live, and of a server the app asked for."""
        asked = {s["server"]["id"] for s in await self.candidates(user_id, asks) if s["server"]}
        own = {i.id: i for i in await self.of_user(user_id)}
        for instance_id in instance_ids:
            instance = own.get(instance_id)
            if instance is None or not instance.live:
                raise BadRequestError(f"No usable MCP instance with id {instance_id}.",
                                      code="invalid_mcp_binding", param="mcps")
            if instance.server.id not in asked:
                raise BadRequestError(f"The app did not ask for the MCP server "
                                      f"'{instance.server.name}'.", code="invalid_mcp_binding",
                                      param="mcps")
        if len({own[i].server.id for i in instance_ids}) != len(instance_ids):
            raise BadRequestError("Bind one instance per MCP server.",
                                  code="invalid_mcp_binding", param="mcps")

    async def covers(self, user_id: str, asks: Sequence[Mapping[str, str]],
                     instance_ids: Sequence[str]) -> bool:
        """Does a grant with these instances give the app every server it asks for?"""
        bound = {i.server.id for i in await self.of_user(user_id)
                 if i.id in instance_ids and i.live}
        wanted = await self.candidates(user_id, asks)
        return all(s["server"] is not None and s["server"]["id"] in bound for s in wanted)

    async def create(self, user_id: str, body: InstanceBody) -> McpInstance:
        if body.server_id is None or body.name is None or body.slug is None:
            raise BadRequestError("An MCP instance needs server_id, name and slug.",
                                  code="invalid_mcp_instance")
        server = await self._servers.get(body.server_id)
        await self._check_slug(user_id, body.slug, None)
        now, instance_id = int(time.time()), str(uuid.uuid4())
        record = McpInstanceRecord(
            instance_id, user_id, server.id, body.name.strip(), body.slug,
            int(body.enabled if body.enabled is not None else True), "[]", None,
            "needs_login" if server.auth.type == "oauth" else "ready", None, None, None, None,
            now, now)
        record = self._with_credentials(record, server, body.credentials or {})
        await self._repo.insert(record)
        return self._from_record(record, server)

    async def update(self, user_id: str, instance_id: str, body: InstanceBody) -> McpInstance:
        instance = await self.get_own(user_id, instance_id)
        record = await self._record(instance_id)
        if body.server_id is not None and body.server_id != instance.server.id:
            raise BadRequestError("An instance cannot move to another server; create a new "
                                  "one.", code="invalid_mcp_instance", param="server_id")
        if body.slug is not None:
            await self._check_slug(user_id, body.slug, instance_id)
        record = replace(record, name=(body.name or record.name).strip(),
                         slug=body.slug or record.slug,
                         enabled=record.enabled if body.enabled is None else int(body.enabled),
                         updated_at=int(time.time()))
        if body.credentials:
            record = self._with_credentials(record, instance.server, body.credentials)
        await self._repo.update(record)
        return self._from_record(record, instance.server)

    async def delete(self, user_id: str, instance_id: str) -> None:
        await self.get_own(user_id, instance_id)
        await self._repo.delete(instance_id)

    async def set_allowed_tools(self, user_id: str, instance_id: str,
                                tools: list[str] | None) -> McpInstance:
        instance = await self.get_own(user_id, instance_id)
        record = replace(await self._record(instance_id), updated_at=int(time.time()),
                         allowed_tools=None if tools is None else json.dumps(sorted(set(tools))))
        await self._repo.update(record)
        return self._from_record(record, instance.server)

    async def save_tools(self, instance_id: str, tools: list[dict[str, Any]]) -> None:
        record = await self._record(instance_id)
        await self._repo.update(replace(record, tools=json.dumps(tools),
                                        tools_fetched_at=int(time.time())))

    def secrets(self, record: McpInstanceRecord) -> dict[str, Any]:
        """The opened credentials: ``{"keys": {...}, "oauth": {...}}``."""
        if not record.credentials:
            return {}
        opened: dict[str, Any] = json.loads(self._box.open(record.credentials,
                                                           _purpose(record.id)))
        return opened

    async def record(self, instance_id: str) -> McpInstanceRecord:
        return await self._record(instance_id)

    async def save_secrets(self, instance_id: str, secrets: dict[str, Any], *,
                           auth_status: str, auth_error: str | None = None) -> None:
        record = await self._record(instance_id)
        await self._repo.update(self._sealed(record, secrets, auth_status, auth_error))

    async def _record(self, instance_id: str) -> McpInstanceRecord:
        record = await self._repo.get(instance_id)
        if record is None:
            raise NotFoundError(f"No MCP instance with id {instance_id}.",
                                code="mcp_instance_not_found")
        return record

    async def _check_slug(self, user_id: str, slug: str, other_than: str | None) -> None:
        if await self._repo.slug_taken(user_id, slug, other_than):
            raise ConflictError(f"You already have an MCP instance with the slug '{slug}'.",
                                code="mcp_slug_taken", param="slug")

    def _with_credentials(self, record: McpInstanceRecord, server: McpServer,
                          changes: dict[str, str | None]) -> McpInstanceRecord:
        if changes and server.auth.type not in ("header", "query"):
            raise BadRequestError(f"The MCP server '{server.name}' takes no keys "
                                  f"(auth: {server.auth.type}).", code="invalid_mcp_credentials",
                                  param="credentials")
        unknown = sorted(set(changes) - set(server.auth.keys))
        if unknown:
            raise BadRequestError(f"The MCP server '{server.name}' takes the keys "
                                  f"{server.auth.keys}, not {unknown}.",
                                  code="invalid_mcp_credentials", param="credentials")
        if any(v is not None and (len(v) > MAX_CREDENTIAL or "\n" in v or "\r" in v)
               for v in changes.values()):
            raise BadRequestError("A credential value must be one line of at most "
                                  f"{MAX_CREDENTIAL} characters.",
                                  code="invalid_mcp_credentials", param="credentials")
        secrets = self.secrets(record)
        keys = {**secrets.get("keys", {}), **changes}
        secrets["keys"] = {k: v for k, v in keys.items() if v is not None}
        return self._sealed(record, secrets, record.auth_status, record.auth_error)

    def _sealed(self, record: McpInstanceRecord, secrets: dict[str, Any], auth_status: str,
                auth_error: str | None) -> McpInstanceRecord:
        sealed = self._box.seal(json.dumps(secrets), _purpose(record.id)) if secrets else None
        return replace(record, credentials=sealed,
                       credential_keys=json.dumps(sorted(secrets.get("keys", {}))),
                       auth_status=auth_status, auth_error=auth_error,
                       updated_at=int(time.time()))

    @staticmethod
    def _from_record(r: McpInstanceRecord, server: McpServer) -> McpInstance:
        return McpInstance(
            r.id, r.user_id, server, r.name, r.slug, bool(r.enabled),
            tuple(json.loads(r.credential_keys)), r.auth_status, r.auth_error,
            None if r.allowed_tools is None else frozenset(json.loads(r.allowed_tools)),
            None if r.tools is None else json.loads(r.tools), r.tools_fetched_at,
            r.created_at, r.updated_at)
