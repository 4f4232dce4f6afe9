"""The settings API's service: every setting with its source, and runtime edits.

Edits are stored in the database (``setting_overrides``) and sit between the environment
and ``settings.yaml`` in precedence. Only runtime-editable settings may be edited; an edit
that changes the effective value is applied at once through that setting's applier (the
log level, for one; the idle timer reads keep-alive on every use by itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from companion.core.errors import BadRequestError, NotFoundError
from companion.core.settings import (
    SETTINGS_BY_NAME,
    Setting,
    Settings,
    plain_value,
    shown_value,
)

Applier = Callable[[Any], None]


class OverrideStore(Protocol):
    """Where runtime edits are kept (``storage.SettingOverrideRepository``); a protocol, so
    core does not depend on storage."""

    async def all(self) -> dict[str, str]: ...

    async def put(self, key: str, value: str, now: int) -> None: ...

    async def delete(self, key: str) -> bool: ...


@dataclass(frozen=True)
class SettingView:
    key: str
    current_value: Any
    default_value: Any
    source: str
    metadata: dict[str, Any]


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int) else "string"


class RuntimeSettings:
    def __init__(self, settings: Settings, repo: OverrideStore,
                 appliers: Mapping[str, Applier] | None = None) -> None:
        self._settings = settings
        self._repo = repo
        self._appliers = dict(appliers or {})

    async def load(self) -> None:
        """Take the stored edits into the effective settings (at startup)."""
        self._settings.apply_database(await self._repo.all())
        for name, apply in self._appliers.items():
            apply(self._settings.resolved(name).value)

    def list(self) -> list[SettingView]:
        return [self._view(setting) for setting, _ in self._settings.items()]

    def get(self, key: str) -> SettingView:
        return self._view(_setting(key))

    async def update(self, key: str, raw: Any) -> SettingView:
        setting = _editable(key)
        try:
            setting.parse(str(raw))
        except ValueError as exc:
            raise BadRequestError(f"{key}: {exc}", code="settings_error-invalid_value",
                                  param="value") from exc
        await self._repo.put(key, str(raw), int(time.time()))
        return await self._reload(setting)

    async def reset(self, key: str) -> SettingView:
        setting = _editable(key)
        await self._repo.delete(key)
        return await self._reload(setting)

    async def _reload(self, setting: Setting[Any]) -> SettingView:
        before = self._settings.resolved(setting.name).value
        self._settings.apply_database(await self._repo.all())
        after = self._settings.resolved(setting.name).value
        apply = self._appliers.get(setting.name)
        if apply is not None and after != before:
            apply(after)
        return self._view(setting)

    def _view(self, setting: Setting[Any]) -> SettingView:
        default = setting.default()
        current = self._settings.resolved(setting.name).value
        return SettingView(setting.name, shown_value(setting, current), plain_value(default),
                           self._settings.source(setting.name).value,
                           _metadata(setting, default))


def _metadata(setting: Setting[Any], default: Any) -> dict[str, Any]:
    """What a client needs to offer the right input: the type, and for some settings the
    values allowed (``choices``) or the lowest number (``min``)."""
    meta: dict[str, Any] = {"type": _type_name(default), "env": setting.env_var,
                            "flag": setting.flag, "runtime_editable": setting.runtime_editable,
                            "help": setting.help}
    if setting.choices:
        meta["choices"] = list(setting.choices)
    if setting.minimum is not None:
        meta["min"] = setting.minimum
    return meta


def _setting(key: str) -> Setting[Any]:
    setting = SETTINGS_BY_NAME.get(key)
    if setting is None:
        raise NotFoundError(f"No setting named {key}.", code="settings_error-not_found")
    return setting


def _editable(key: str) -> Setting[Any]:
    setting = _setting(key)
    if not setting.runtime_editable:
        raise BadRequestError(f"{key} cannot be changed while the server runs; set it on the "
                              "command line, in the environment or in settings.yaml.",
                              code="settings_error-not_editable")
    return setting
