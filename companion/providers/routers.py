"""Router aliases: one model name over several models, tried in turn.

A router alias names ``targets`` (local or remote model names). ``fallback`` tries them in
the listed order; ``round_robin`` starts each request one target further along. A target that
fails before its reply began (429, a 5xx, unreachable) is skipped for a cool-down: the
``Retry-After`` it gave, else ``BODHI_ROUTER_COOLDOWN_SECS``. The cool-downs and the rotation
live in memory; they start afresh with the companion.

When every target is cooling down the request is refused at once with 503 and a
``Retry-After`` until the first one is back, rather than sent anyway to the target that
cools down first: a provider that asked for a pause (or is down) would only fail again, and
the client gets an honest time to come back.

A router alias is granted by its own name; its targets are reached through it, so a grant of
the alias alone is enough.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field, StrictStr

from companion.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
)
from companion.core.schema import Schema
from companion.models import AliasSource, ModelCatalog, RemoteModel
from companion.providers.records import MODEL_NAME, ApiModelService
from companion.storage.api_models import RouterAliasRecord, RouterAliasRepository

Strategy = Literal["fallback", "round_robin"]


class RouterBody(Schema):
    """``POST /bodhi/v1/models/router`` and ``PUT .../{alias}`` (alias from the path)."""

    model_config = ConfigDict(extra="forbid")

    alias: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    targets: list[StrictStr] = Field(min_length=1, max_length=20)
    strategy: Strategy = "fallback"


@dataclass(frozen=True)
class RouterAlias:
    alias: str
    targets: tuple[str, ...]
    strategy: Strategy
    created_at: int
    updated_at: int

    def to_json(self) -> dict[str, Any]:
        return {"alias": self.alias, "targets": list(self.targets), "strategy": self.strategy,
                "created_at": self.created_at, "updated_at": self.updated_at}

    def listed(self) -> RemoteModel:
        """The alias in the model lists (it is granted, and asked for, by its own name)."""
        return RemoteModel(self.alias, AliasSource.ROUTER, f"router/{self.strategy}",
                           owned_by="system",
                           details={"targets": list(self.targets), "strategy": self.strategy})


def _public(r: RouterAliasRecord) -> RouterAlias:
    strategy: Strategy = "round_robin" if r.strategy == "round_robin" else "fallback"
    return RouterAlias(r.alias, tuple(json.loads(r.targets)), strategy, r.created_at,
                       r.updated_at)


class Cooldowns:
    """When each failed target may be tried again (monotonic seconds)."""

    def __init__(self, default_secs: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._default = default_secs
        self._clock = clock
        self._until: dict[str, float] = {}

    def failed(self, target: str, retry_after: int | None) -> None:
        secs = retry_after if retry_after is not None and retry_after > 0 else self._default()
        self._until[target] = self._clock() + secs

    def cooling(self, target: str) -> float:
        """Seconds left before ``target`` may be tried; 0 when it may be now."""
        left = self._until.get(target, 0.0) - self._clock()
        return left if left > 0 else 0.0


class RouterAliasService:
    """Router alias CRUD (in memory, reloaded after each change) and each request's order."""

    def __init__(self, repo: RouterAliasRepository, catalog: ModelCatalog,
                 api_models: ApiModelService, cooldowns: Cooldowns,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self._repo = repo
        self._on_change = on_change
        self._catalog = catalog
        self._api = api_models
        self.cooldowns = cooldowns
        self._routers: dict[str, RouterAlias] = {}
        self._turn: dict[str, int] = {}

    async def load(self) -> None:
        self._routers = {r.alias: _public(r) for r in await self._repo.list_all()}

    def all(self) -> list[RouterAlias]:
        return list(self._routers.values())

    def names(self) -> Iterable[str]:
        return list(self._routers)

    def find(self, alias: str) -> RouterAlias | None:
        return self._routers.get(alias)

    def get(self, alias: str) -> RouterAlias:
        found = self._routers.get(alias)
        if found is None:
            raise NotFoundError(f"No router alias '{alias}'.", code="router_alias_not_found")
        return found

    async def create(self, body: RouterBody) -> RouterAlias:
        if body.alias is None:
            raise BadRequestError("Name the router alias ('alias').", code="invalid_value",
                                  param="alias")
        if body.alias in self._routers:
            raise ConflictError(f"The router alias '{body.alias}' exists.",
                                code="model_name_taken", param="alias")
        return await self._save(body.alias, body, int(time.time()))

    async def update(self, alias: str, body: RouterBody) -> RouterAlias:
        return await self._save(alias, body, self.get(alias).created_at)

    async def delete(self, alias: str) -> None:
        self.get(alias)
        await self._repo.delete(alias)
        await self.load()
        self._on_change()

    async def _save(self, alias: str, body: RouterBody, created: int) -> RouterAlias:
        self._check(alias, body.targets)
        await self._repo.upsert(RouterAliasRecord(alias, json.dumps(body.targets),
                                                  body.strategy, created, int(time.time())))
        await self.load()
        self._on_change()
        return self.get(alias)

    def _check(self, alias: str, targets: list[str]) -> None:
        if not MODEL_NAME.match(alias):
            raise BadRequestError("A router alias is 1 to 200 characters, no spaces.",
                                  code="invalid_value", param="alias")
        if self._catalog.has(alias) or self._api.resolve(alias) is not None:
            raise ConflictError(f"The model name '{alias}' is already taken by a local or "
                                "API model.", code="model_name_taken", param="alias")
        for target in targets:
            if target == alias or target in self._routers:
                raise BadRequestError(f"A router alias's target cannot be a router alias "
                                      f"('{target}').", code="invalid_value", param="targets")
            if not self._catalog.has(target) and self._api.resolve(target) is None:
                raise BadRequestError(f"The target '{target}' is not a model name.",
                                      code="unknown_target", param="targets")

    def order(self, router: RouterAlias) -> list[str]:
        """The targets to try for one request, cooling ones left out; 503 when all are."""
        targets = list(router.targets)
        if router.strategy == "round_robin":
            turn = self._turn.get(router.alias, 0)
            self._turn[router.alias] = turn + 1
            start = turn % len(targets)
            targets = targets[start:] + targets[:start]
        ready = [t for t in targets if not self.cooldowns.cooling(t)]
        if not ready:
            wait = min(self.cooldowns.cooling(t) for t in targets)
            raise ServiceUnavailableError(
                f"Every model behind '{router.alias}' failed recently; try again in "
                f"{math.ceil(wait)} s.", code="router_targets_unavailable",
                retry_after=max(1, math.ceil(wait)))
        return ready
