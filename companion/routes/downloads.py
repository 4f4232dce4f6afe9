"""Model file downloads: ``/bodhi/v1/models/files/pull`` jobs (power users)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ConfigDict, StrictStr

from companion.auth.principal import Role
from companion.core.errors import NotFoundError
from companion.core.schema import Schema
from companion.middleware.access import requires
from companion.middleware.docs import PAGING, documented
from companion.models.downloads import DownloadJob
from companion.models.names import check_repo
from companion.routes.bodies import read_json
from companion.routes.keys import MODELS
from companion.routes.paging import page_of, paginated
from companion.routes.replies import DownloadJobOut, Page, shaped


class PullRequest(Schema):
    """A file named outright, or the repository's single-file GGUF in ``quant`` (without
    either: the default quantisation, or the repository's only GGUF)."""

    model_config = ConfigDict(extra="forbid")

    repo: StrictStr
    filename: StrictStr | None = None
    quant: StrictStr | None = None


def job_json(job: DownloadJob) -> dict[str, Any]:
    return shaped(DownloadJobOut, {
        "id": job.id, "repo": job.repo, "filename": job.filename, "status": job.status.value,
        "total_bytes": job.total_bytes, "downloaded_bytes": job.downloaded_bytes,
        "bytes_per_s": job.bytes_per_s, "eta_s": job.eta_s, "error": job.error,
        "error_code": job.error_code, "created_at": job.created_at, "updated_at": job.updated_at})


@requires(Role.POWER_USER, all_models=True)
@documented("Download a model file (201 new, 200 already there or running)", body=PullRequest,
            response=DownloadJobOut, also=(200,), errors=(404, 502),
            status=201)
async def start_pull(request: web.Request) -> web.Response:
    body = await read_json(request, PullRequest)
    downloads = request.app[MODELS].downloads
    filename = body.get("filename")
    if not filename:
        check_repo(body["repo"])
        try:
            filename = await downloads.hub_file(body["repo"], body.get("quant") or None)
        except NotFoundError as exc:  # name the field the caller filled in
            raise NotFoundError(exc.message, code=exc.code, param="quant") from exc
    job, created = await downloads.pull(body["repo"], filename)
    return web.json_response(job_json(job), status=201 if created else 200)


@requires(Role.POWER_USER, all_models=True)
@documented("Download jobs", response=Page[DownloadJobOut], query=PAGING)
async def list_pulls(request: web.Request) -> web.Response:
    page = page_of(request)
    jobs, total = await request.app[MODELS].downloads.list(page.page, page.page_size)
    return paginated([job_json(j) for j in jobs], total, page)


@requires(Role.POWER_USER, all_models=True)
@documented("One download job", response=DownloadJobOut)
async def get_pull(request: web.Request) -> web.Response:
    job = await request.app[MODELS].downloads.get(request.match_info["id"])
    return web.json_response(job_json(job))


@requires(Role.POWER_USER, all_models=True)
@documented("Cancel a download", response=DownloadJobOut, errors=(409,))
async def cancel_pull(request: web.Request) -> web.Response:
    job = await request.app[MODELS].downloads.cancel(request.match_info["id"])
    return web.json_response(job_json(job))


@requires(Role.POWER_USER, all_models=True)
@documented("Retry a failed download", response=DownloadJobOut, errors=(409,))
async def retry_pull(request: web.Request) -> web.Response:
    job = await request.app[MODELS].downloads.retry(request.match_info["id"])
    return web.json_response(job_json(job))


def setup(app: web.Application) -> None:
    base = "/bodhi/v1/models/files/pull"
    app.router.add_post(base, start_pull)
    app.router.add_get(base, list_pulls)
    app.router.add_get(base + "/{id}", get_pull)
    app.router.add_post(base + "/{id}/cancel", cancel_pull)
    app.router.add_post(base + "/{id}/retry", retry_pull)
