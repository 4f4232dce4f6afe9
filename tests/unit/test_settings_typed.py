"""Typed settings: every row of the table is an attribute of ``Settings`` that reads the
effective value, live through runtime edits; every ``BODHI_*`` environment variable the code
names is a row or a command's own input."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from companion.cli.client import API_TOKEN_ENV
from companion.cli.main import OPEN_NO_BROWSER_ENV, SETUP_CLIENT_SECRET_ENV
from companion.core.runtime_settings import RuntimeSettings
from companion.core.settings import SETTINGS, Settings, Source, load_settings, plain_value
from companion.storage import Database, SettingOverrideRepository

ROOT = Path(__file__).parents[2]

# A value (other than the default) for each runtime-editable setting, and what it parses to.
EDITS: dict[str, tuple[str, Any]] = {
    "BODHI_LOG_LEVEL": ("error", "ERROR"),
    "BODHI_KEEP_ALIVE_SECS": ("60", 60),
    "BODHI_MCP_KEEP_ALIVE_SECS": ("-1", -1),
    "BODHI_MAX_LOADED_MODELS": ("3", 3),
    "BODHI_MODEL_MEMORY_BUDGET_MB": ("512", 512),
    "BODHI_MAX_REQUESTS_PER_MODEL": ("4", 4),
    "BODHI_QUEUE_PER_MODEL": ("32", 32),
    "BODHI_ROUTER_COOLDOWN_SECS": ("5", 5),
    "BODHI_APP_ACTIVITY_PER_GRANT": ("50", 50),
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={"BODHI_HOME": str(tmp_path), "BODHI_PORT": "4321",
                              "HF_HOME": str(tmp_path / "hf")})


@pytest.mark.parametrize("row", SETTINGS, ids=lambda row: row.name)
def test_every_row_is_the_attribute_named_after_it(row: Any) -> None:
    assert row.attr == row.name.lower().removeprefix("bodhi_")
    assert getattr(Settings, row.attr) is row


@pytest.mark.parametrize("row", SETTINGS, ids=lambda row: row.name)
def test_the_attribute_reads_the_resolved_value(settings: Settings, row: Any) -> None:
    assert getattr(settings, row.attr) == settings.resolved(row.name).value


@pytest.mark.parametrize("row", SETTINGS, ids=lambda row: row.name)
def test_parse_and_default_give_the_same_type(row: Any) -> None:
    """mypy takes a row's type from parse and default together; differing, it would be object."""
    default = row.default()
    assert type(row.parse(str(plain_value(default)).lower())) is type(default)


def test_typed_values_need_no_cast(settings: Settings, tmp_path: Path) -> None:
    assert settings.port == 4321 and settings.source("BODHI_PORT") is Source.ENVIRONMENT
    assert settings.home == tmp_path and isinstance(settings.home, Path)
    assert settings.hf_home == tmp_path / "hf"
    assert settings.log_stdout is False
    assert settings.llamacpp_args == ""


def test_every_runtime_editable_setting_has_a_sample_edit() -> None:
    assert {row.name for row in SETTINGS if row.runtime_editable} == set(EDITS)


async def test_attributes_follow_runtime_edits(settings: Settings, db: Database) -> None:
    runtime = RuntimeSettings(settings, SettingOverrideRepository(db))
    await runtime.load()
    rows = [row for row in SETTINGS if row.runtime_editable]
    readers = {row.name: (lambda row=row: getattr(settings, row.attr)) for row in rows}
    defaults = {row.name: row.default() for row in rows}

    for name, (raw, value) in EDITS.items():
        await runtime.update(name, raw)
        assert readers[name]() == value
    assert settings.keep_alive_secs == 60

    for name in EDITS:
        await runtime.reset(name)
        assert readers[name]() == defaults[name]


@pytest.mark.parametrize("row", [r for r in SETTINGS if r.choices or r.minimum is not None],
                         ids=lambda row: row.name)
def test_choices_and_minimum_agree_with_parse(row: Any) -> None:
    """The web UI offers ``choices`` and checks ``minimum``: parse must take exactly those."""
    for choice in row.choices:
        row.parse(choice)
    if row.minimum is not None:
        row.parse(str(row.minimum))
        with pytest.raises(ValueError):
            row.parse(str(row.minimum - 1))


async def test_the_settings_api_describes_each_input(settings: Settings, db: Database) -> None:
    runtime = RuntimeSettings(settings, SettingOverrideRepository(db))
    await runtime.load()
    level = runtime.get("BODHI_LOG_LEVEL").metadata
    assert level["choices"] == ["debug", "info", "warning", "error"] and "min" not in level
    assert runtime.get("BODHI_KEEP_ALIVE_SECS").metadata["min"] == -1
    assert runtime.get("BODHI_ROUTER_COOLDOWN_SECS").metadata["min"] == 1
    assert "choices" not in runtime.get("BODHI_PORT").metadata


@pytest.mark.parametrize("raw", ["1e3", "1.5", "ten", ""])
def test_a_number_that_is_not_whole_is_refused_in_words(raw: str) -> None:
    with pytest.raises(ValueError, match="expected a whole number"):
        Settings.router_cooldown_secs.parse(raw)


# Names that are not settings: the input of one CLI command, named after the command, and
# the API token of the commands that use the running companion's API (status, models, chat).
COMMAND_INPUTS = {SETUP_CLIENT_SECRET_ENV, OPEN_NO_BROWSER_ENV, API_TOKEN_ENV}
PRODUCT_CODE = ("companion", "native_host", "bench", "scripts", "e2e")


def _named_bodhi_variables() -> dict[str, str]:
    """Every ``BODHI_*`` name written as a whole string literal, with where it first appears."""
    found: dict[str, str] = {}
    for folder in PRODUCT_CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for name in re.findall(r"""["'](BODHI_[A-Z0-9_]+)["']""", text):
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_bodhi_variable_is_a_setting_or_a_command_input() -> None:
    settings = {row.env_var for row in SETTINGS}
    strays = {name: where for name, where in _named_bodhi_variables().items()
              if name not in settings | COMMAND_INPUTS}
    assert strays == {}


def test_command_inputs_are_not_settings() -> None:
    assert not COMMAND_INPUTS & {row.env_var for row in SETTINGS}
