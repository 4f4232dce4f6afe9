"""``InferenceService``: turn an OpenAI-shaped request into a call on the right child.

Resolves the model, fills the alias's request defaults, takes a lease on a ready child and
forwards the body. The reply is handed back unbuffered so streams are relayed chunk by chunk.
Only the HTTP client seam is used here; no web framework.

Every lookup by name checks the caller's model grant before the catalog is asked, and a name
outside the grant fails exactly like an unknown one, so a credential limited to some models
cannot learn which others exist, nor their repository, file or alias file.

A name resolves in order: user alias → model-file alias (the catalog) → API model (an exact
exposed name, or a prefix its record forwards everything under) → router alias. Remote
models answer through ``companion.providers`` with replies already in OpenAI's shape, so the
families cannot tell them from local ones. A router alias tries its targets in turn, moving
on when one fails before its reply began (see ``providers.routers``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core.errors import (
    BadRequestError,
    BodhiError,
    ForbiddenError,
    ModelNotFoundError,
    UpstreamError,
)
from companion.core.metrics import Metrics, ReplyWatch
from companion.core.upstream import ChildClient, ChildLost, ChildReply, ChildUnreachable
from companion.families.translation import upstream_error
from companion.inference.model_queue import ModelQueue
from companion.inference.pool import Lease, LlamaPool
from companion.inference.process import LlamaProcess
from companion.models import ListedModel, ModelCatalog, RemoteModel, ResolvedModel
from companion.models.catalog import AliasFileError
from companion.providers import ApiModel, RemoteModels, RouterAlias

log = logging.getLogger(__name__)

# Unloading stops a model other people may be using: the Bodhi route and Ollama's
# ``keep_alive: 0`` both go through ``InferenceService.unload``, which asks for this role.
UNLOAD_ROLE = Role.POWER_USER


class Endpoint(StrEnum):
    CHAT = "/v1/chat/completions"
    COMPLETIONS = "/v1/completions"
    EMBEDDINGS = "/v1/embeddings"
    RESPONSES = "/v1/responses"


class ModelReply(Protocol):
    """What ``forward`` yields, from a child or a provider: a reply not read yet."""

    status: int
    content_type: str

    @property
    def is_event_stream(self) -> bool: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def read(self) -> bytes: ...


@dataclass(frozen=True)
class ApiRoute:
    model: ApiModel
    upstream: str   # the provider's id for the name asked


Route = ResolvedModel | ApiRoute | RouterAlias


def _retryable(status: int) -> bool:
    """A router moves on after these (before any byte of the reply went to the client)."""
    return status in (404, 429) or status >= 500


class UpstreamReply:
    """A model server's reply whose body has not been read yet."""

    def __init__(self, reply: ChildReply, alias: str, watch: ReplyWatch | None = None) -> None:
        self._reply = reply
        self._alias = alias
        self._watch = watch or ReplyWatch()
        self.status = reply.status
        self.content_type = reply.content_type

    @property
    def is_event_stream(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises ``UpstreamError`` if the model server goes away."""
        try:
            async for chunk in self._reply.chunks():
                self._watch.saw(chunk, time.monotonic())
                yield chunk
        except ChildLost as exc:
            raise _lost(self._alias, exc) from exc

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


def _lost(alias: str, exc: Exception) -> UpstreamError:
    log.warning("model %s: connection to model server lost: %s", alias, type(exc).__name__)
    return UpstreamError(f"The model server for '{alias}' stopped while answering; "
                         "try again.", code="model_server_lost")


class InferenceService:
    def __init__(self, catalog: ModelCatalog, pool: LlamaPool, children: ChildClient,
                 metrics: Metrics | None = None, remote: RemoteModels | None = None) -> None:
        self._catalog = catalog
        self._pool = pool
        self._children = children
        self._metrics = metrics or Metrics()
        self._remote = remote

    def list_models(self, caller: Principal) -> list[ListedModel]:
        """Local models, then API models (their listed names), then router aliases."""
        remote: list[RemoteModel] = []
        if self._remote is not None:
            remote = [m.listed(m.prefix + name, name) for m in self._remote.api.all()
                      for name in m.models]
            remote += [r.listed() for r in self._remote.routers.all()]
        listed: list[ListedModel] = [*self._catalog.list(), *remote]
        return [m for m in listed if caller.may_use_model(m.alias)]

    def model_names(self, caller: Principal) -> list[str]:
        """Every model name the caller may ask for (the families' model lists)."""
        return [m.alias for m in self.list_models(caller)]
    def alias_file_errors(self, caller: Principal) -> list[AliasFileError]:
        """Broken alias files, named only to callers not limited to granted models."""
        if caller.models is not None or caller.kind is PrincipalKind.APP_TOKEN:
            return []
        return self._catalog.errors

    def granted_files(self, caller: Principal) -> frozenset[Path] | None:
        """The files behind the models the caller may use; None when it may use every one."""
        if caller.models is None:
            return None
        paths = set()
        for name in caller.models:
            with contextlib.suppress(BodhiError):  # granted but gone or not downloaded
                route = self._route(name)
                if isinstance(route, ResolvedModel):  # remote models have no file
                    paths.add(route.path.resolve())
        return frozenset(paths)

    def keep_alive_secs(self) -> int:
        return self._pool.keep_alive_secs()

    def loaded(self, caller: Principal) -> list[LlamaProcess]:
        return [p for p in self._pool.loaded() if caller.may_use_model(p.alias)]

    def is_evicting(self, alias: str) -> bool:
        return self._pool.is_evicting(alias)

    def queued(self, alias: str) -> int:
        return self._pool.queued(alias)

    def queue(self, alias: str) -> ModelQueue:
        return self._pool.queue(alias)

    def is_file_in_use(self, path: Path) -> bool:
        return self._pool.is_using(path)

    async def load(self, name: str, caller: Principal) -> LlamaProcess:
        """Load the model now (as a request would) and return its child."""
        self._check_granted(name, caller)
        model = self._route(name)
        if not isinstance(model, ResolvedModel):
            raise BadRequestError(f"'{name}' is a remote model; there is nothing to load.",
                                  code="model_not_local", param="model")
        async with self._pool.lease(model) as lease:
            return lease.process

    async def unload(self, name: str, caller: Principal) -> bool:
        """Unload once in-flight requests are done; False when it was not loaded."""
        if not caller.has_role(UNLOAD_ROLE):
            raise ForbiddenError(f"Unloading a model needs the role {UNLOAD_ROLE.value} or "
                                 "higher.", code="auth_error-insufficient_role")
        self._check_granted(name, caller)
        with contextlib.suppress(BodhiError):  # an alias whose file is gone may be loaded
            if not isinstance(self._route(name), ResolvedModel):
                return False  # a remote model is never loaded here
        return await self._pool.unload(self._catalog.resolve_alias(name).alias)

    @staticmethod
    def _check_granted(name: str, caller: Principal) -> None:
        """A model outside the grant is reported as missing, before the catalog is asked."""
        if not caller.may_use_model(name):
            raise ModelNotFoundError(name)

    def _route(self, name: str) -> Route:
        """Where ``name`` goes, grants aside. A local name wins; a name that is neither
        local nor remote gets the catalog's answer (which rescans the cache first)."""
        if self._remote is not None:
            local = self._catalog.find(name)
            if local is not None:
                return self._catalog.located(local)  # the folder was just looked at
            found = self._remote.api.resolve(name)
            if found is not None:
                return ApiRoute(*found)
            router = self._remote.routers.find(name)
            if router is not None:
                return router
        return self._catalog.resolve(name)

    def get_model(self, name: str, caller: Principal) -> ListedModel:
        self._check_granted(name, caller)
        route = self._route(name)
        if isinstance(route, ApiRoute):
            return route.model.listed(name, route.upstream)
        if isinstance(route, RouterAlias):
            return route.listed()
        return route.alias

    @contextlib.asynccontextmanager
    async def forward(self, endpoint: Endpoint, body: dict[str, Any], caller: Principal
                      ) -> AsyncIterator[ModelReply]:
        name = str(body["model"])
        self._check_granted(name, caller)
        async with self._forward_to(endpoint, body, name) as reply:
            yield reply

    @contextlib.asynccontextmanager
    async def _forward_to(self, endpoint: Endpoint, body: dict[str, Any], asked: str
                          ) -> AsyncIterator[ModelReply]:
        """``body`` to the model ``body["model"]`` names; replies name ``asked``."""
        route = self._route(str(body["model"]))
        started = time.monotonic()
        if isinstance(route, RouterAlias):
            async with self._forward_router(endpoint, body, route) as reply:
                yield reply
        elif isinstance(route, ApiRoute):
            assert self._remote is not None
            provider = self._remote.api.provider(route.model.id)
            try:
                async with self._remote.calls.forward(provider, endpoint.value, body,
                                                      route.upstream, asked) as api_reply:
                    yield api_reply
            finally:
                self._metrics.observe_duration(asked, endpoint.value,
                                               time.monotonic() - started)
        else:
            async with self._forward_local(endpoint, body, route) as local_reply:
                yield local_reply

    @contextlib.asynccontextmanager
    async def _forward_router(self, endpoint: Endpoint, body: dict[str, Any],
                              router: RouterAlias) -> AsyncIterator[ModelReply]:
        """Each target in turn until one answers; never once its reply has begun."""
        assert self._remote is not None
        cooldowns, last = self._remote.routers.cooldowns, None
        for target in self._remote.routers.order(router):
            stack = contextlib.AsyncExitStack()
            try:
                reply = await stack.enter_async_context(
                    self._forward_to(endpoint, {**body, "model": target}, router.alias))
                if _retryable(reply.status):  # a local child's refusal
                    raise upstream_error(reply.status, await reply.read())
            except BodhiError as exc:
                await stack.aclose()
                if not _retryable(exc.status):
                    raise
                log.info("router %s: target %s failed (%s), trying the next", router.alias,
                         target, exc.code)
                cooldowns.failed(target, exc.retry_after)
                last = exc
                continue
            async with stack:
                yield reply
            return
        assert last is not None
        raise last

    @contextlib.asynccontextmanager
    async def _forward_local(self, endpoint: Endpoint, body: dict[str, Any],
                             model: ResolvedModel) -> AsyncIterator[ModelReply]:
        payload = json.dumps(model.alias.fill_request(body)).encode()
        embeddings = endpoint is Endpoint.EMBEDDINGS
        started, watch, stream = time.monotonic(), ReplyWatch(), bool(body.get("stream"))
        async with self._pool.lease(model, embeddings=embeddings) as lease:
            if endpoint in (Endpoint.CHAT, Endpoint.RESPONSES) and body.get("tools"):
                await self._check_tools(lease, model.alias.alias)
            response = await self._send(lease, endpoint, payload, stream, embeddings)
            try:
                yield UpstreamReply(response, model.alias.alias, watch)
            finally:
                response.finish()
                watch.report(self._metrics, model.alias.alias, endpoint.value, started,
                             time.monotonic(), stream)

    async def count_tokens(self, body: dict[str, Any], caller: Principal) -> int:
        """The input tokens of an OpenAI chat body, as the model would see them. Local: the
        child renders the messages (and tools) with the model's own chat template
        (``/apply-template``), then tokenizes that prompt (``/tokenize``). Remote: the
        provider counts, where its format can; a router alias asks its first ready target."""
        name = str(body["model"])
        self._check_granted(name, caller)
        route = self._route(name)
        if isinstance(route, RouterAlias):
            assert self._remote is not None
            route = self._route(self._remote.routers.order(route)[0])
        if isinstance(route, ApiRoute):
            assert self._remote is not None
            return await self._remote.calls.count_tokens(
                self._remote.api.provider(route.model.id), body, route.upstream)
        if isinstance(route, RouterAlias):
            raise AssertionError("a router alias's target is never a router alias")
        return await self._count_local(body, route)

    async def _count_local(self, body: dict[str, Any], model: ResolvedModel) -> int:
        template = {k: body[k] for k in ("messages", "tools") if body.get(k)}
        async with self._pool.lease(model) as lease:
            prompt = await self._child_json(lease, "/apply-template", template)
            tokens = await self._child_json(lease, "/tokenize",
                                            {"content": prompt.get("prompt", ""),
                                             "add_special": True})
        if not isinstance(tokens.get("tokens"), list):
            raise UpstreamError("The model server did not count the tokens.",
                                code="model_server_reply")
        return len(tokens["tokens"])

    async def _child_json(self, lease: Lease, path: str, body: dict[str, Any]
                          ) -> dict[str, Any]:
        process = lease.process
        try:
            reply = await self._children.post_json(lease.base_url + path,
                                                   json.dumps(body).encode(), stream=False,
                                                   auth=process.auth_headers)
            try:
                raw = b"".join([chunk async for chunk in reply.chunks()])
            finally:
                reply.finish()
        except (ChildUnreachable, ChildLost) as exc:
            raise _lost(process.alias, exc) from exc
        if reply.status != 200:
            raise upstream_error(reply.status, raw)
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise UpstreamError("The model server's reply was not JSON.",
                                code="model_server_reply")
        return parsed

    @staticmethod
    async def _check_tools(lease: Lease, alias: str) -> None:
        try:
            supported = await lease.process.supports_tools()
        except (ChildUnreachable, ChildLost) as exc:
            raise _lost(alias, exc) from exc
        if not supported:
            raise BadRequestError(f"The model '{alias}' cannot use tools: its chat template "
                                  "has no place for them. Give it a template that does "
                                  "(an alias's --chat-template).", code="tools_not_supported",
                                  param="tools")

    async def _send(self, lease: Lease, endpoint: Endpoint, payload: bytes, stream: bool,
                    embeddings: bool) -> ChildReply:
        process = lease.process
        for attempt in (1, 2):
            try:
                return await self._children.post_json(lease.base_url + endpoint.value, payload,
                                                      stream=stream, auth=process.auth_headers)
            except (ChildUnreachable, ChildLost) as exc:
                # No reply yet: the child refused the connection, or dropped a pooled one,
                # because it died since it was last seen ready. Start a new one, once; a
                # child that is still running lost this request for its own reasons.
                if attempt == 2 or not await process.confirm_exit():
                    raise _lost(process.alias, exc) from exc
                await process.ensure_ready(embeddings=embeddings)
        raise AssertionError("unreachable")

