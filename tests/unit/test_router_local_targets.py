"""A router alias whose local target's child refuses (503) or cannot be reached moves on to
the next target. Stand-ins: a real local server answers for the child (as in
``test_relay.py``) and another for an OpenAI-format provider; the router, the records, the
provider calls and ``InferenceService``'s routing are the real ones."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion.auth.principal import Principal, PrincipalKind, Role
from companion.core.metrics import Metrics
from companion.core.secrets_box import SecretBox
from companion.core.upstream import (
    ChildClient,
    ProviderClient,
    make_child_session,
    make_provider_session,
)
from companion.inference.service import Endpoint, InferenceService, ModelReply, UpstreamReply
from companion.models import ModelCatalog, ResolvedModel
from companion.models.catalog import EMBEDDED_ALIAS
from companion.providers import (
    ApiModelService,
    Cooldowns,
    ProviderCalls,
    RemoteModels,
    RouterAliasService,
)
from companion.providers.records import ApiModelBody
from companion.providers.routers import RouterBody
from companion.storage import Database
from companion.storage.api_models import ApiModelRepository, RouterAliasRepository

ANSWER = {"object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "from the provider"},
     "finish_reason": "stop"}]}


class StandInChild(InferenceService):
    """Local models answered by a stand-in child at ``child_url`` instead of the pool."""

    child_url = ""

    @asynccontextmanager
    async def _forward_local(self, endpoint: Endpoint, body: dict[str, Any],
                             model: ResolvedModel) -> AsyncIterator[ModelReply]:
        reply = await self._children.post_json(self.child_url + endpoint.value,
                                               json.dumps(body).encode(), stream=False,
                                               auth={})
        try:
            yield UpstreamReply(reply, model.alias.alias)
        finally:
            reply.finish()


async def busy_child(request: web.Request) -> web.Response:
    return web.json_response({"error": {"message": "Loading model"}}, status=503)


async def provider(request: web.Request) -> web.Response:
    return web.json_response(ANSWER)


async def _serve(path: str, handler: Any) -> TestServer:
    app = web.Application()
    app.router.add_post(path, handler)
    server = TestServer(app)
    await server.start_server()
    return server


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[StandInChild]:
    child = await _serve(Endpoint.CHAT.value, busy_child)
    remote = await _serve("/v1/chat/completions", provider)
    db = await Database.open(tmp_path / "bodhi.db")
    catalog = ModelCatalog(tmp_path / "aliases", tmp_path / "hub")
    api = ApiModelService(ApiModelRepository(db), SecretBox(b"k" * 32), catalog)
    routers = RouterAliasService(RouterAliasRepository(db), catalog, api, Cooldowns(lambda: 30))
    child_session, provider_session = make_child_session(), make_provider_session()
    inference = StandInChild(catalog, None, ChildClient(child_session),  # type: ignore[arg-type]
                             Metrics(), RemoteModels(api, routers,
                                                     ProviderCalls(ProviderClient(provider_session))))
    inference.child_url = str(child.make_url("")).rstrip("/")
    await api.create(ApiModelBody(api_format="openai", models=["ok"], prefix="p/",
                                  base_url=str(remote.make_url("/v1"))))
    try:
        yield inference
    finally:
        await child_session.close()
        await provider_session.close()
        await child.close()
        await remote.close()
        await db.close()


async def test_a_local_child_answering_503_is_skipped_and_cools_down(
        service: StandInChild) -> None:
    remote = service._remote
    assert remote is not None
    await remote.routers.create(RouterBody(alias="r", targets=[EMBEDDED_ALIAS, "p/ok"]))
    caller = Principal(PrincipalKind.API_TOKEN, role=Role.USER, models=frozenset({"r"}))
    body = {"model": "r", "messages": [{"role": "user", "content": "hi"}]}
    async with service.forward(Endpoint.CHAT, body, caller) as reply:
        answered = json.loads(await reply.read())
    assert answered["choices"][0]["message"]["content"] == "from the provider"
    assert answered["model"] == "r"
    assert remote.routers.cooldowns.cooling(EMBEDDED_ALIAS) > 25
