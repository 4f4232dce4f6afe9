"""Typed application keys for the identity, token and settings routes."""

from __future__ import annotations

from aiohttp import web

from companion.auth import ApiTokenService
from companion.auth.identity import Identity
from companion.runtime_settings import RuntimeSettings

IDENTITY = web.AppKey("identity", Identity)
TOKENS = web.AppKey("tokens", ApiTokenService)
RUNTIME_SETTINGS = web.AppKey("runtime_settings", RuntimeSettings)
