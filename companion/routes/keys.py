"""Every typed application key: how routes (and the composition root) reach the services."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from companion.access import AppServices
from companion.auth import ApiTokenService
from companion.auth.identity import Identity
from companion.auth.owner_challenges import OwnerChallenges
from companion.core.metrics import Metrics
from companion.core.runtime_settings import RuntimeSettings
from companion.inference.service import InferenceService
from companion.mcp.calls import McpCalls
from companion.mcp.instances import McpInstanceService
from companion.mcp.oauth import McpOAuth
from companion.mcp.proxy import McpProxy
from companion.mcp.servers import McpServerService
from companion.mcp.stdio_process import StdioServers
from companion.models import ModelCatalog
from companion.models.alias_store import AliasStore
from companion.models.downloads import DownloadService
from companion.models.files import ModelFiles
from companion.providers import RemoteModels
from companion.storage import Database


@dataclass(frozen=True)
class ServerInfo:
    version: str
    url: str


@dataclass(frozen=True)
class ModelServices:
    """What the model management routes use: catalog, files, aliases, downloads."""

    catalog: ModelCatalog
    files: ModelFiles
    aliases: AliasStore
    downloads: DownloadService


@dataclass(frozen=True)
class McpServices:
    """What the MCP routes use: the registry, users' instances, the proxy and direct calls."""

    servers: McpServerService
    instances: McpInstanceService
    proxy: McpProxy
    calls: McpCalls
    oauth: McpOAuth
    stdio: StdioServers


INFERENCE = web.AppKey("inference", InferenceService)
MCPS = web.AppKey("mcps", McpServices)
MODELS = web.AppKey("models", ModelServices)
METRICS = web.AppKey("metrics", Metrics)
SERVER_INFO = web.AppKey("server_info", ServerInfo)
APPS = web.AppKey("apps", AppServices)
IDENTITY = web.AppKey("identity", Identity)
TOKENS = web.AppKey("tokens", ApiTokenService)
RUNTIME_SETTINGS = web.AppKey("runtime_settings", RuntimeSettings)
OWNER_CHALLENGES = web.AppKey("owner_challenges", OwnerChallenges)
DATABASE = web.AppKey("database", Database)
REMOTE_MODELS = web.AppKey("remote_models", RemoteModels)
