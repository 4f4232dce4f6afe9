"""The settings API for admins (browser session only): every setting with its source and
metadata; runtime-editable ones can be changed (stored in the database) or reset."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web
from pydantic import RootModel

from companion.auth.principal import Role
from companion.core.runtime_settings import SettingView
from companion.core.schema import Schema
from companion.middleware.access import requires
from companion.middleware.docs import documented
from companion.routes.bodies import read_json
from companion.routes.keys import RUNTIME_SETTINGS
from companion.routes.replies import SettingOut, shaped


class SettingUpdate(Schema):
    value: str | int | float | bool


class SettingList(RootModel[list[SettingOut]]):
    """Every setting (not paged: the table is short)."""


def _json(view: SettingView) -> dict[str, Any]:
    return shaped(SettingOut, dataclasses.asdict(view))


@requires(Role.ADMIN, session_only=True)
@documented("Every setting with its value, source and metadata",
            response=SettingList)
async def list_settings(request: web.Request) -> web.Response:
    return web.json_response([_json(v) for v in request.app[RUNTIME_SETTINGS].list()])


@requires(Role.ADMIN, session_only=True)
@documented("One setting", response=SettingOut)
async def get_setting(request: web.Request) -> web.Response:
    return web.json_response(_json(request.app[RUNTIME_SETTINGS].get(request.match_info["key"])))


@requires(Role.ADMIN, session_only=True)
@documented("Change a runtime-editable setting", body=SettingUpdate, response=SettingOut)
async def update_setting(request: web.Request) -> web.Response:
    body = SettingUpdate.model_validate(await read_json(request, SettingUpdate))
    raw = str(body.value).lower() if isinstance(body.value, bool) else body.value
    view = await request.app[RUNTIME_SETTINGS].update(request.match_info["key"], raw)
    return web.json_response(_json(view))


@requires(Role.ADMIN, session_only=True)
@documented("Reset a setting to its default", response=SettingOut)
async def reset_setting(request: web.Request) -> web.Response:
    view = await request.app[RUNTIME_SETTINGS].reset(request.match_info["key"])
    return web.json_response(_json(view))


def setup(app: web.Application) -> None:
    app.router.add_get("/bodhi/v1/settings", list_settings)
    app.router.add_get("/bodhi/v1/settings/{key}", get_setting)
    app.router.add_put("/bodhi/v1/settings/{key}", update_setting)
    app.router.add_delete("/bodhi/v1/settings/{key}", reset_setting)
