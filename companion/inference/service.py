"""``InferenceService``: turn an OpenAI-shaped request into a call on the right child.

Resolves the model, fills the alias's request defaults, takes a lease on a ready child and
forwards the body. The reply is handed back unbuffered so streams are relayed chunk by chunk.
Only the HTTP client seam is used here; no web framework.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

import aiohttp

from companion.auth.principal import Principal
from companion.errors import ForbiddenError, ModelNotFoundError, UpstreamError
from companion.inference.pool import Lease, LlamaPool
from companion.models import ModelAlias, ModelCatalog

log = logging.getLogger(__name__)


class Endpoint(StrEnum):
    CHAT = "/v1/chat/completions"
    COMPLETIONS = "/v1/completions"
    EMBEDDINGS = "/v1/embeddings"


class UpstreamReply:
    """A model server's reply whose body has not been read yet."""

    def __init__(self, response: aiohttp.ClientResponse, alias: str) -> None:
        self._response = response
        self._alias = alias
        self.status = response.status
        self.content_type: str = response.headers.get("content-type", "application/json")

    @property
    def is_event_stream(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises ``UpstreamError`` if the model server goes away."""
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except aiohttp.ClientError as exc:
            raise _lost(self._alias, exc) from exc

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


def _lost(alias: str, exc: Exception) -> UpstreamError:
    log.warning("model %s: connection to model server lost: %s", alias, type(exc).__name__)
    return UpstreamError(f"The model server for '{alias}' stopped while answering; "
                         "try again.", code="model_server_lost")


class InferenceService:
    def __init__(self, catalog: ModelCatalog, pool: LlamaPool,
                 session: aiohttp.ClientSession) -> None:
        self._catalog = catalog
        self._pool = pool
        self._session = session

    def list_models(self, caller: Principal) -> list[ModelAlias]:
        return [m for m in self._catalog.list() if caller.may_use_model(m.alias)]

    def get_model(self, name: str, caller: Principal) -> ModelAlias:
        alias = self._catalog.resolve(name).alias
        if not caller.may_use_model(alias.alias):
            raise ModelNotFoundError(name)
        return alias

    @contextlib.asynccontextmanager
    async def forward(self, endpoint: Endpoint, body: dict[str, Any], caller: Principal
                      ) -> AsyncIterator[UpstreamReply]:
        model = self._catalog.resolve(str(body["model"]))
        if not caller.may_use_model(model.alias.alias):
            raise ForbiddenError(f"This credential is not granted the model '{body['model']}'.",
                                 code="auth_error-model_not_granted", param="model")
        payload = json.dumps(model.alias.fill_request(body)).encode()
        embeddings = endpoint is Endpoint.EMBEDDINGS
        stream = bool(body.get("stream"))
        async with self._pool.lease(model, embeddings=embeddings) as lease:
            response = await self._send(lease, endpoint, payload, stream, embeddings)
            try:
                yield UpstreamReply(response, model.alias.alias)
            finally:
                # llama.cpp closes the connection after a streamed reply while announcing
                # keep-alive, and an unfinished reply must not go back to the pool either.
                if stream or not response.content.at_eof():
                    response.close()
                else:
                    response.release()

    async def _send(self, lease: Lease, endpoint: Endpoint, payload: bytes, stream: bool,
                    embeddings: bool) -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/json"}
        if stream:
            headers["Connection"] = "close"
        process = lease.process
        for attempt in (1, 2):
            try:
                return await self._session.post(lease.base_url + endpoint.value, data=payload,
                                                headers=headers)
            except aiohttp.ClientConnectorError as exc:
                # The child died since it was last seen ready: start a new one, once.
                if attempt == 2 or not await process.confirm_exit():
                    raise _lost(process.alias, exc) from exc
                await process.ensure_ready(embeddings=embeddings)
            except aiohttp.ClientError as exc:
                raise _lost(process.alias, exc) from exc
        raise AssertionError("unreachable")
