"""Ollama's model management under ``/api``: pull, delete, copy and create.

Names: ``/api/pull`` takes a model on the Hugging Face hub as Ollama does,
``hf.co/owner/repo:QUANT`` (the repository's single-file GGUF of that quantisation), or a file
outright as ``hf.co/owner/repo/file.gguf``, and runs it as a Bodhi download job, so a second pull
of the same file follows the same job and a stopped one resumes. Its progress goes out as
Ollama's status objects, one JSON per line (``stream: false``: only the last one); a failure
once the stream has begun is the last line, ``{"error": "..."}``. Delete, copy and create work
on aliases (create: a new alias on an existing model's file, Ollama's ``parameters`` as its
defaults). Who may call them: as the Bodhi routes (a power user, with a credential for every
model; an app token never).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from pydantic import ConfigDict, Field, StrictStr

from companion.auth.principal import Role
from companion.core.errors import BadRequestError, BodhiError, ConflictError, UpstreamError
from companion.core.schema import Schema
from companion.families import ollama
from companion.families.family import NDJSON
from companion.middleware.access import requires
from companion.middleware.docs import documented
from companion.models.alias import AliasSource
from companion.models.downloads import DownloadJob, DownloadService, JobStatus
from companion.models.names import hub_model
from companion.routes.bodies import read_json
from companion.routes.keys import INFERENCE, MODELS
from companion.routes.ollama import NamedOrOld, model_of

Status = dict[str, Any]
# What ``/api/create`` cannot do: it makes aliases of files already here.
_UNSUPPORTED_CREATE = ("files", "adapters", "quantize", "messages", "template", "system",
                       "license")


class _Copy(Schema):
    source: StrictStr = Field(min_length=1)
    destination: StrictStr = Field(min_length=1)


class _Create(NamedOrOld):
    model_config = ConfigDict(extra="allow")

    from_: StrictStr | None = Field(default=None, alias="from", min_length=1)


def _digest(repo: str, filename: str) -> str:
    return "sha256:" + hashlib.sha256(f"{repo}/{filename}".encode()).hexdigest()


async def _start(downloads: DownloadService, repo: str, filename: str) -> DownloadJob | None:
    """The download job of the file, or None when the file is already in the cache."""
    try:
        job, _ = await downloads.pull(repo, filename)
    except BadRequestError as exc:
        if exc.code == "file_already_exists":
            return None
        raise
    return job


async def _pull_progress(downloads: DownloadService, job: DownloadJob | None,
                         digest: str) -> AsyncIterator[Status]:
    yield {"status": "pulling manifest"}
    if job is not None:
        async for state in downloads.follow(job.id):
            if state.status is JobStatus.ERROR:
                raise UpstreamError(f"pull model manifest: {state.error}", code="download_failed")
            if state.status is JobStatus.CANCELLED:
                raise ConflictError("The download was cancelled.", code="download_cancelled")
            if state.total_bytes is not None:  # not before the hub has said how big
                yield {"status": f"downloading {digest}", "digest": digest,
                       "total": state.total_bytes, "completed": state.downloaded_bytes}
    for status in ("verifying sha256 digest", "writing manifest", "success"):
        yield {"status": status}


async def _answer(request: web.Request, body: dict[str, Any],
                  statuses: AsyncIterator[Status]) -> web.StreamResponse:
    """Every status as one NDJSON line, or (``stream: false``) only the last one."""
    if not ollama.wants_stream(body):
        seen = [status async for status in statuses]
        return web.json_response(seen[-1])
    response = web.StreamResponse(headers=dict(NDJSON.headers))
    await response.prepare(request)
    try:
        async for status in statuses:
            await response.write(NDJSON.frame(status))
    except BodhiError as exc:  # the status is sent; the error is the last line
        await response.write(ollama.FAMILY.stream_error(exc))
    except ConnectionResetError:
        return response  # the client left; a download job goes on without it
    await response.write_eof()
    return response


@requires(Role.POWER_USER, all_models=True)
@documented("Ollama: pull a model from Hugging Face", body=NamedOrOld,
            stream="application/x-ndjson", errors=(404, 502))
async def pull(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, NamedOrOld)
    name, downloads = hub_model(model_of(body)), request.app[MODELS].downloads
    repo = name.repo
    filename = name.filename or await downloads.hub_file(repo, name.quant)
    job = await _start(downloads, repo, filename)
    return await _answer(request, body,
                         _pull_progress(downloads, job, _digest(repo, filename)))


@requires(Role.POWER_USER, all_models=True)
@documented("Ollama: delete a model", body=NamedOrOld, media=None, errors=(404,))
async def delete(request: web.Request) -> web.Response:
    """A user alias, or a model file by its ``owner/repo:quant`` name."""
    body = await read_json(request, NamedOrOld)
    name, models = model_of(body), request.app[MODELS]
    alias = models.catalog.resolve_alias(name)
    if alias.source is AliasSource.USER:
        models.aliases.delete(name)
    elif alias.source is AliasSource.MODEL:
        models.files.delete(alias.repo, alias.filename, request.app[INFERENCE].is_file_in_use)
    else:
        raise BadRequestError(f"The model '{name}' is built in and cannot be deleted.",
                              code="model_built_in", param="model")
    return web.Response()


@requires(Role.POWER_USER, all_models=True)
@documented("Ollama: copy a model", body=_Copy, media=None, errors=(404, 409))
async def copy(request: web.Request) -> web.Response:
    body = await read_json(request, _Copy)
    request.app[MODELS].aliases.copy(body["source"], body["destination"])
    return web.Response()


async def _created(digest: str) -> AsyncIterator[Status]:
    for status in (f"using existing layer {digest}", "writing manifest", "success"):
        yield {"status": status}


def _base_of(body: dict[str, Any]) -> str:
    """The model a create body builds on; what needs Ollama's own model store is refused."""
    refused = [field for field in _UNSUPPORTED_CREATE if body.get(field)]
    if refused:
        raise BadRequestError(f"'{refused[0]}' is not supported: create makes an alias of a "
                              "model already here, given as 'from'.", param=refused[0])
    if not body.get("from"):
        raise BadRequestError("'from' is required: the model the new one is made from.",
                              param="from")
    return str(body["from"])


@requires(Role.POWER_USER, all_models=True)
@documented("Ollama: create a model from a file", body=_Create, stream="application/x-ndjson",
            errors=(404, 409))
async def create(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, _Create)
    base = _base_of(body)
    request_params, context_params = ollama.alias_params(body.get("parameters"))
    alias = request.app[MODELS].aliases.derive(base, model_of(body), request_params,
                                               context_params)
    return await _answer(request, body, _created(_digest(alias.repo, alias.filename)))


def setup(app: web.Application) -> None:
    app.router.add_post("/api/pull", pull)
    app.router.add_delete("/api/delete", delete)
    app.router.add_post("/api/copy", copy)
    app.router.add_post("/api/create", create)
