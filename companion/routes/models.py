"""Bodhi model management: aliases, model files, loaded models (``/bodhi/v1/models``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ConfigDict, StrictStr

from companion.auth.principal import Role
from companion.core.errors import BadRequestError
from companion.core.schema import Schema
from companion.inference.process import LlamaProcess
from companion.inference.service import UNLOAD_ROLE, InferenceService
from companion.middleware.access import requires
from companion.middleware.auth import PRINCIPAL
from companion.middleware.docs import PAGING, QueryParam, documented
from companion.models import ListedModel, RemoteModel
from companion.models.alias import AliasSource
from companion.models.alias_store import alias_document
from companion.models.catalog import AliasFileError
from companion.models.files import ModelFile
from companion.routes.bodies import read_json
from companion.routes.keys import INFERENCE, MODELS
from companion.routes.paging import page_of, paginated
from companion.routes.replies import (
    AliasFileProblem,
    ApiAlias,
    DeletedFile,
    Items,
    LoadedModel,
    LocalAlias,
    ModelFileOut,
    ModelPage,
    Page,
    RouterAliasEntry,
    Unloaded,
    UserAliasPage,
    shaped,
)


class AliasBody(Schema):
    model_config = ConfigDict(extra="allow")  # the store validates the fields themselves


class CopyBody(Schema):
    model_config = ConfigDict(extra="forbid")

    alias: StrictStr


_FILE_QUERY = (
    QueryParam("repo", "owner/name", required=True),
    QueryParam("filename", "The file.", required=True),
)


def alias_json(alias: ListedModel) -> dict[str, Any]:
    if isinstance(alias, RemoteModel):  # no file: the record and provider id, or the targets
        shape = ApiAlias if alias.source is AliasSource.API else RouterAliasEntry
        return shaped(shape, {"alias": alias.alias, "source": alias.source.value,
                              **alias.details})
    return shaped(LocalAlias, {**alias_document(alias), "source": alias.source.value})


def _errors_json(errors: list[AliasFileError]) -> list[dict[str, str]]:
    return [shaped(AliasFileProblem, {"file": e.path.name, "message": e.message}) for e in errors]


def file_json(item: ModelFile) -> dict[str, Any]:
    info = item.info
    return shaped(ModelFileOut, {
        "repo": item.file.repo, "filename": item.file.filename,
        "snapshot": item.file.snapshot, "size": item.size,
        "architecture": info.architecture if info else None,
        "context_length": info.context_length if info else None,
        "chat_template": info.has_chat_template if info else False,
        "quantization": (info.quantization if info else None) or item.file.quant,
        "parameters": info.size_label if info else None, "error": item.error})


def loaded_json(process: LlamaProcess, inference: InferenceService) -> dict[str, Any]:
    queue = inference.queue(process.alias)
    return shaped(LoadedModel, {
        "alias": process.alias, "pid": process.pid, "port": process.port,
        "state": "unloading" if inference.is_evicting(process.alias) else process.state.value,
        "loaded_at": process.loaded_at, "last_used": round(process.last_used_at(), 3),
        "in_flight": process.in_flight, "queued": inference.queued(process.alias),
        "queue_oldest_wait": round(queue.oldest_wait(), 3),
        "queue_average_wait": round(queue.average_wait(), 3),
        "rss": process.memory_bytes(), "embeddings": process.embeddings,
        "model_path": str(process.model_path)})


@requires(Role.USER, app_scope="models")
@documented("Models this caller may use, local and remote", response=ModelPage,
            query=PAGING)
async def list_models(request: web.Request) -> web.Response:
    page = page_of(request)
    inference, caller = request.app[INFERENCE], request[PRINCIPAL]
    models = inference.list_models(caller)
    return paginated([alias_json(m) for m in page.slice(models)], len(models), page,
                     errors=_errors_json(inference.alias_file_errors(caller)))


@requires(Role.USER, app_scope="models")
@documented("Model files (GGUF) in the Hugging Face cache", response=Page[ModelFileOut],
            query=PAGING)
async def list_files(request: web.Request) -> web.Response:
    page = page_of(request)
    files = request.app[MODELS].files.list(
        only=request.app[INFERENCE].granted_files(request[PRINCIPAL]))
    return paginated([file_json(f) for f in page.slice(files)], len(files), page)


@requires(Role.POWER_USER, all_models=True)
@documented("Delete a model file", response=DeletedFile, query=_FILE_QUERY, errors=(404, 409))
async def delete_file(request: web.Request) -> web.Response:
    repo, filename = request.query.get("repo"), request.query.get("filename")
    if not repo or not filename:
        raise BadRequestError("Give the file as ?repo=owner/name&filename=FILE.",
                              code="invalid_value", param="repo")
    removed = request.app[MODELS].files.delete(repo, filename,
                                               request.app[INFERENCE].is_file_in_use)
    return web.json_response(shaped(DeletedFile, {"repo": repo, "filename": filename,
                                                  "snapshots": removed}))


@requires(Role.POWER_USER, all_models=True)
@documented("User model aliases", response=UserAliasPage, query=PAGING)
async def list_aliases(request: web.Request) -> web.Response:
    page = page_of(request)
    catalog = request.app[MODELS].catalog
    users = [a for a in catalog.list() if a.source.value == "user"]
    return paginated([alias_json(a) for a in page.slice(users)], len(users), page,
                     errors=_errors_json(catalog.errors))


@requires(Role.POWER_USER, all_models=True)
@documented("Create a model alias", body=AliasBody, response=LocalAlias, status=201,
            errors=(409,))
async def create_alias(request: web.Request) -> web.Response:
    body = await read_json(request, AliasBody)
    return web.json_response(alias_json(request.app[MODELS].aliases.create(body)), status=201)


@requires(Role.POWER_USER, all_models=True)
@documented("One user alias", response=LocalAlias)
async def get_alias(request: web.Request) -> web.Response:
    return web.json_response(alias_json(request.app[MODELS].aliases.get(
        request.match_info["id"])))


@requires(Role.POWER_USER, all_models=True)
@documented("Change a user alias", body=AliasBody, response=LocalAlias)
async def update_alias(request: web.Request) -> web.Response:
    body = await read_json(request, AliasBody)
    alias = request.app[MODELS].aliases.update(request.match_info["id"], body)
    return web.json_response(alias_json(alias))


@requires(Role.POWER_USER, all_models=True)
@documented("Delete a user alias", status=204, media=None)
async def delete_alias(request: web.Request) -> web.Response:
    request.app[MODELS].aliases.delete(request.match_info["id"])
    return web.Response(status=204)


@requires(Role.POWER_USER, all_models=True)
@documented("Copy an alias under a new name", body=CopyBody, response=LocalAlias,
            status=201, errors=(409,))
async def copy_alias(request: web.Request) -> web.Response:
    body = await read_json(request, CopyBody)
    alias = request.app[MODELS].aliases.copy(request.match_info["id"], body["alias"])
    return web.json_response(alias_json(alias), status=201)


@requires(Role.POWER_USER)
@documented("Models loaded now", response=Items[LoadedModel])
async def list_loaded(request: web.Request) -> web.Response:
    inference = request.app[INFERENCE]
    return web.json_response({"data": [
        loaded_json(p, inference) for p in inference.loaded(request[PRINCIPAL])]})


@requires(Role.POWER_USER)
@documented("Load a model now", response=LoadedModel, errors=(429, 503))
async def load_model(request: web.Request) -> web.Response:
    inference = request.app[INFERENCE]
    process = await inference.load(request.match_info["alias"], request[PRINCIPAL])
    return web.json_response(loaded_json(process, inference))


@requires(UNLOAD_ROLE)
@documented("Unload a model", response=Unloaded)
async def unload_model(request: web.Request) -> web.Response:
    alias = request.match_info["alias"]
    unloaded = await request.app[INFERENCE].unload(alias, request[PRINCIPAL])
    return web.json_response(shaped(Unloaded, {"alias": alias, "unloaded": unloaded}))


def setup(app: web.Application) -> None:
    base = "/bodhi/v1/models"
    app.router.add_get(base, list_models)
    app.router.add_get(base + "/files", list_files)
    app.router.add_delete(base + "/files", delete_file)
    app.router.add_get(base + "/alias", list_aliases)
    app.router.add_post(base + "/alias", create_alias)
    app.router.add_get(base + "/alias/{id:.+}", get_alias)
    app.router.add_put(base + "/alias/{id:.+}", update_alias)
    app.router.add_delete(base + "/alias/{id:.+}", delete_alias)
    app.router.add_post(base + "/alias/{id:.+}/copy", copy_alias)
    app.router.add_get(base + "/loaded", list_loaded)
    app.router.add_post(base + "/{alias:.+}/load", load_model)
    app.router.add_post(base + "/{alias:.+}/unload", unload_model)
