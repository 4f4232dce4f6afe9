"""Remote API models: records, keys, the provider calls and router aliases.

``records`` holds the API model records (keys sealed), ``dialects`` the API format → dialect
registry, ``calls`` the provider calls and their errors, ``routers`` router aliases with their
cool-downs. ``InferenceService`` routes a request here when its model is not local.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.providers.calls import ApiReply, ProviderCalls
from companion.providers.records import ApiModel, ApiModelService, Provider
from companion.providers.routers import Cooldowns, RouterAlias, RouterAliasService


@dataclass(frozen=True)
class RemoteModels:
    """What the request path and the record routes use for models that are not local."""

    api: ApiModelService
    routers: RouterAliasService
    calls: ProviderCalls


__all__ = ["ApiModel", "ApiModelService", "ApiReply", "Cooldowns", "Provider", "ProviderCalls",
           "RemoteModels", "RouterAlias", "RouterAliasService"]
