"""Typed application keys through which routes reach the services."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from companion.apps import AppServices
from companion.inference.service import InferenceService


@dataclass(frozen=True)
class ServerInfo:
    version: str
    url: str


INFERENCE = web.AppKey("inference", InferenceService)
SERVER_INFO = web.AppKey("server_info", ServerInfo)
APPS = web.AppKey("apps", AppServices)
