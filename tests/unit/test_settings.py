"""companion/core/settings.py: precedence, sources, parsing and refusal of bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.core.errors import ConfigError
from companion.core.settings import (
    SETTINGS,
    SETTINGS_BY_NAME,
    Source,
    load_settings,
    settings_markdown,
)


def write_settings(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """An explicit environment: never the developer's real ~/.bodhi."""
    return {"BODHI_HOME": str(home)}


@pytest.mark.parametrize(
    ("use_cli", "use_env", "use_file", "port", "source"),
    [
        (True, True, True, 4000, Source.COMMAND_LINE),
        (False, True, True, 3000, Source.ENVIRONMENT),
        (False, False, True, 2000, Source.SETTINGS_FILE),
        (False, False, False, 1135, Source.DEFAULT),
        (True, False, False, 4000, Source.COMMAND_LINE),
        (True, False, True, 4000, Source.COMMAND_LINE),
    ],
)
def test_precedence_cli_env_file_default(home: Path, env: dict[str, str], use_cli: bool,
                                         use_env: bool, use_file: bool, port: int,
                                         source: Source) -> None:
    if use_file:
        write_settings(home, "BODHI_PORT: 2000\n")
    if use_env:
        env["BODHI_PORT"] = "3000"
    cli = {"BODHI_PORT": "4000"} if use_cli else {}

    settings = load_settings(cli=cli, env=env)

    assert settings.port == port
    assert settings.source("BODHI_PORT") is source


def test_each_setting_keeps_its_own_source(home: Path, env: dict[str, str]) -> None:
    write_settings(home, "BODHI_LOG_LEVEL: debug\nBODHI_KEEP_ALIVE_SECS: 60\n")
    env["BODHI_KEEP_ALIVE_SECS"] = "30"

    settings = load_settings(cli={"BODHI_HOST": "0.0.0.0"}, env=env)

    assert (settings.host, settings.source("BODHI_HOST")) == (
        "0.0.0.0", Source.COMMAND_LINE)
    assert (settings.keep_alive_secs, settings.source("BODHI_KEEP_ALIVE_SECS")) == (
        30, Source.ENVIRONMENT)
    assert (settings.log_level, settings.source("BODHI_LOG_LEVEL")) == (
        "DEBUG", Source.SETTINGS_FILE)
    assert (settings.port, settings.source("BODHI_PORT")) == (1135, Source.DEFAULT)
    assert settings.source("BODHI_HOME") is Source.ENVIRONMENT
    # items() covers the whole table, in table order, with the same values.
    items = settings.items()
    assert [s.name for s, _ in items] == [s.name for s in SETTINGS]
    assert dict((s.name, r.value) for s, r in items)["BODHI_KEEP_ALIVE_SECS"] == 30


def test_cli_none_and_empty_env_mean_unset(home: Path, env: dict[str, str]) -> None:
    write_settings(home, "BODHI_PORT: 2000\n")
    env["BODHI_PORT"] = ""

    settings = load_settings(cli={"BODHI_PORT": None}, env=env)

    assert settings.port == 2000
    assert settings.source("BODHI_PORT") is Source.SETTINGS_FILE


def test_null_in_settings_file_means_unset(home: Path, env: dict[str, str]) -> None:
    write_settings(home, "BODHI_PORT:\n")

    settings = load_settings(env=env)

    assert settings.port == 1135
    assert settings.source("BODHI_PORT") is Source.DEFAULT


def test_settings_file_is_read_from_the_effective_home(tmp_path: Path) -> None:
    cli_home, env_home = tmp_path / "cli", tmp_path / "env"
    write_settings(cli_home, "BODHI_PORT: 1111\n")
    write_settings(env_home, "BODHI_PORT: 2222\n")

    settings = load_settings(cli={"BODHI_HOME": str(cli_home)},
                             env={"BODHI_HOME": str(env_home)})

    assert settings.home == cli_home
    assert settings.source("BODHI_HOME") is Source.COMMAND_LINE
    assert settings.port == 1111


def test_paths_expand_user(env: dict[str, str]) -> None:
    env["HF_HOME"] = "~/some-hf"

    settings = load_settings(env=env)

    assert settings.hf_home == Path.home() / "some-hf"
    assert settings.source("HF_HOME") is Source.ENVIRONMENT


def test_defaults_when_nothing_is_set(home: Path, env: dict[str, str]) -> None:
    settings = load_settings(env=env)

    assert settings.host == "127.0.0.1"
    assert settings.port == 1135
    assert settings.keep_alive_secs == 300
    assert settings.log_level == "INFO"
    assert settings.log_stdout is False
    assert settings.max_request_bytes == 32 * 1024 * 1024
    assert all(settings.source(s.name) is Source.DEFAULT for s in SETTINGS
               if s.name != "BODHI_HOME")


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("BODHI_PORT", "70000"),
        ("BODHI_PORT", "-1"),
        ("BODHI_PORT", "http"),
        ("BODHI_KEEP_ALIVE_SECS", "-2"),
        ("BODHI_KEEP_ALIVE_SECS", "forever"),
        ("BODHI_KEEP_ALIVE_SECS", "1.5"),
        ("BODHI_LOG_LEVEL", "verbose"),
        ("BODHI_LOG_STDOUT", "maybe"),
        ("BODHI_MAX_REQUEST_BYTES", "0"),
        ("BODHI_LLAMA_READY_TIMEOUT_SECS", "-5"),
    ],
)
@pytest.mark.parametrize("where", ["cli", "env", "file"])
def test_bad_value_raises_config_error_naming_the_setting(
        home: Path, env: dict[str, str], name: str, raw: str, where: str) -> None:
    cli: dict[str, str] = {}
    if where == "cli":
        cli[name] = raw
        origin = "the command line"
    elif where == "env":
        env[name] = raw
        origin = "the environment"
    else:
        write_settings(home, f"{name}: '{raw}'\n")
        origin = "settings.yaml"

    with pytest.raises(ConfigError) as info:
        load_settings(cli=cli, env=env)

    assert name in str(info.value)
    assert origin in str(info.value)
    assert info.value.code == "config_error"


def test_unknown_key_in_settings_file_is_rejected(home: Path, env: dict[str, str]) -> None:
    write_settings(home, "BODHI_PORT: 2000\nBODHI_PROT: 2001\nCOLOR: blue\n")

    with pytest.raises(ConfigError) as info:
        load_settings(env=env)

    assert "BODHI_PROT" in str(info.value)
    assert "COLOR" in str(info.value)


@pytest.mark.parametrize("text", ["BODHI_PORT: [1, 2\n", "- BODHI_PORT\n- 2000\n", "just text\n"])
def test_malformed_settings_file_is_rejected(home: Path, env: dict[str, str],
                                             text: str) -> None:
    write_settings(home, text)

    with pytest.raises(ConfigError) as info:
        load_settings(env=env)

    assert "settings.yaml" in str(info.value)


def test_empty_settings_file_is_fine(home: Path, env: dict[str, str]) -> None:
    write_settings(home, "")

    assert load_settings(env=env).port == 1135


@pytest.mark.parametrize(("raw", "secs"), [("-1", -1), ("0", 0), ("600", 600), (" 45 ", 45)])
def test_keep_alive_values(env: dict[str, str], raw: str, secs: int) -> None:
    env["BODHI_KEEP_ALIVE_SECS"] = raw

    assert load_settings(env=env).keep_alive_secs == secs


def test_keep_alive_from_yaml_integer(home: Path, env: dict[str, str]) -> None:
    write_settings(home, "BODHI_KEEP_ALIVE_SECS: -1\n")

    settings = load_settings(env=env)

    assert settings.keep_alive_secs == -1
    assert settings.source("BODHI_KEEP_ALIVE_SECS") is Source.SETTINGS_FILE


@pytest.mark.parametrize(
    ("raw", "level"),
    [("debug", "DEBUG"), ("INFO", "INFO"), (" Warning ", "WARNING"), ("warn", "WARNING"),
     ("error", "ERROR"), ("trace", "DEBUG")],
)
def test_log_level_parsing(env: dict[str, str], raw: str, level: str) -> None:
    assert load_settings(cli={"BODHI_LOG_LEVEL": raw}, env=env).log_level == level


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("YES", True), ("1", True),
                                            ("off", False), ("0", False), ("False", False)])
def test_bool_parsing(env: dict[str, str], raw: str, value: bool) -> None:
    env["BODHI_LOG_STDOUT"] = raw

    assert load_settings(env=env).log_stdout is value


def test_yaml_booleans_parse(home: Path, env: dict[str, str]) -> None:
    write_settings(home, "BODHI_LOG_STDOUT: true\n")

    assert load_settings(env=env).log_stdout is True


def test_flags_and_env_vars_derive_from_names() -> None:
    assert SETTINGS_BY_NAME["BODHI_KEEP_ALIVE_SECS"].flag == "--keep-alive-secs"
    assert SETTINGS_BY_NAME["HF_HOME"].flag == "--hf-home"
    assert SETTINGS_BY_NAME["BODHI_HOME"].env_var == "BODHI_HOME"
    flags = [s.flag for s in SETTINGS]
    assert len(set(flags)) == len(flags)


def test_bodhi_home_in_its_own_settings_file_is_refused(home: Path, env: dict[str, str]) -> None:
    write_settings(home, "BODHI_HOME: /elsewhere\n")

    with pytest.raises(ConfigError, match="BODHI_HOME cannot be set"):
        load_settings(env=env)


def test_docs_settings_table_is_the_generated_one(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    text = (Path(__file__).parents[2] / "docs" / "usage.md").read_text(encoding="utf-8")
    begin = text.index("\n", text.index("<!-- settings:begin")) + 1
    documented = text[begin:text.index("<!-- settings:end -->")]
    assert documented == settings_markdown(), "run: bodhi config --markdown"
    for setting in SETTINGS:
        assert f"`{setting.name}`" in documented
