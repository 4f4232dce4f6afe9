"""The one settings table and how an effective value is chosen.

Every setting is one row of ``SettingsTable`` (listed in order as ``SETTINGS``); on a
``Settings`` each row reads as a typed attribute (``settings.port: int``). The CLI flags of
``bodhi serve``, ``bodhi config``, the settings API and the docs are all derived from it.
Precedence, highest first: command line > environment > database (runtime edits) >
``$BODHI_HOME/settings.yaml`` > default. Only runtime-editable settings take values from the
database.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar, cast, overload

from companion.core.errors import ConfigError


class Source(StrEnum):
    COMMAND_LINE = "command_line"
    ENVIRONMENT = "environment"
    DATABASE = "database"
    SETTINGS_FILE = "settings_file"
    DEFAULT = "default"


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR"}:
        raise ValueError(f"expected one of debug, info, warning, error; got {raw!r}")
    return "WARNING" if level == "WARN" else "DEBUG" if level == "TRACE" else level


def _whole(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None


def _parse_port(raw: str) -> int:
    port = _whole(raw)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return port


def _parse_keep_alive(raw: str) -> int:
    secs = _whole(raw)
    if secs < -1:
        raise ValueError("expected -1 (never), 0 (right after each request) or seconds")
    return secs


def _parse_positive_int(raw: str) -> int:
    number = _whole(raw)
    if number <= 0:
        raise ValueError(f"expected a positive number, got {number}")
    return number


def _parse_non_negative_int(raw: str) -> int:
    number = _whole(raw)
    if number < 0:
        raise ValueError(f"expected 0 or a positive number, got {number}")
    return number


def _parse_path(raw: str) -> Path:
    return Path(raw).expanduser()


def _default_hf_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "huggingface"


T = TypeVar("T")


class Setting(Generic[T]):
    """One row of the settings table.

    Declared as an attribute of ``SettingsTable``, it reads on a ``Settings`` as that setting's
    effective value, typed by what ``parse`` returns (``settings.port`` is an ``int``). It reads
    the value at each access, so a runtime edit shows at once.
    """

    def __init__(self, name: str, parse: Callable[[str], T], default: Callable[[], T],
                 help: str, *, runtime_editable: bool = False, env: str = "",
                 secret: bool = False, choices: tuple[str, ...] = (),
                 minimum: int | None = None) -> None:
        self.name = name
        self.parse = parse
        self.default = default
        self.help = help
        self.runtime_editable = runtime_editable
        self.env = env
        self.secret = secret      # never shown: the settings API and `bodhi config` mask it
        # What the web UI's input offers and checks before sending; ``parse`` stays the rule.
        self.choices = choices
        self.minimum = minimum
        self.attr = ""            # the attribute it is declared as, set by __set_name__

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    @overload
    def __get__(self, settings: None, owner: type) -> Setting[T]: ...
    @overload
    def __get__(self, settings: Settings, owner: type) -> T: ...
    def __get__(self, settings: Settings | None, owner: type) -> Setting[T] | T:
        if settings is None:
            return self
        return cast(T, settings.resolved(self.name).value)

    def __repr__(self) -> str:
        return f"Setting({self.name!r})"

    @property
    def env_var(self) -> str:
        return self.env or self.name

    @property
    def flag(self) -> str:
        return "--" + self.name.lower().removeprefix("bodhi_").replace("_", "-")


class SettingsTable:
    """The one settings table: each attribute is a row, in the order the docs list them."""

    home = Setting("BODHI_HOME", _parse_path, lambda: Path.home() / ".bodhi",
                   "Data directory: databases, aliases/, logs/, the owner secret.")
    host = Setting("BODHI_HOST", str, lambda: "127.0.0.1",
                   "Address to listen on. Keep it on loopback unless you mean to serve the LAN.")
    port = Setting("BODHI_PORT", _parse_port, lambda: 1135, "Port to listen on.")
    public_host = Setting(
        "BODHI_PUBLIC_HOST", str, lambda: "",
        "Extra host name clients use to reach this server (accepted in the Host header).")
    log_level = Setting("BODHI_LOG_LEVEL", _parse_log_level, lambda: "INFO",
                        "Log level: debug, info, warning or error.", runtime_editable=True,
                        choices=("debug", "info", "warning", "error"))
    log_stdout = Setting("BODHI_LOG_STDOUT", _parse_bool, lambda: False,
                         "Also write the log to standard output.")
    keep_alive_secs = Setting(
        "BODHI_KEEP_ALIVE_SECS", _parse_keep_alive, lambda: 300,
        "Unload an idle model after this many seconds; -1 never, 0 right after each request.",
        runtime_editable=True, minimum=-1)
    mcp_keep_alive_secs = Setting(
        "BODHI_MCP_KEEP_ALIVE_SECS", _parse_keep_alive, lambda: 300,
        "Stop an idle local (stdio) MCP server after this many seconds; -1 never, 0 right "
        "after each request.", runtime_editable=True, minimum=-1)
    llama_server = Setting(
        "BODHI_LLAMA_SERVER", str, lambda: "",
        "llama-server executable to run models with; empty uses the bundled launcher.")
    llamacpp_args = Setting(
        "BODHI_LLAMACPP_ARGS", str, lambda: "",
        "Extra llama-server flags for every model, e.g. '--ctx-size 4096 --threads 4'. "
        "Trusted: passed unchecked (any flag, files included), so only the machine's admin "
        "sets it (command line, environment, settings.yaml); alias flags are limited to an "
        "allow-list.")
    llama_ready_timeout_secs = Setting(
        "BODHI_LLAMA_READY_TIMEOUT_SECS", _parse_positive_int, lambda: 120,
        "How long a model may take to load before the request fails.")
    max_request_bytes = Setting(
        "BODHI_MAX_REQUEST_BYTES", _parse_positive_int, lambda: 32 * 1024 * 1024,
        "Largest request body accepted; larger ones get 413.")
    header_timeout_secs = Setting(
        "BODHI_HEADER_TIMEOUT_SECS", _parse_positive_int, lambda: 10,
        "A new connection must send its request headers within this many seconds.")
    max_pending_connections = Setting(
        "BODHI_MAX_PENDING_CONNECTIONS", _parse_positive_int, lambda: 256,
        "Connections that may be sending their request headers at once; more are closed.")
    max_loaded_models = Setting(
        "BODHI_MAX_LOADED_MODELS", _parse_positive_int, lambda: 2,
        "How many models may be loaded at once; the least recently used one is unloaded "
        "(after its requests finish) to make room.", runtime_editable=True, minimum=1)
    model_memory_budget_mb = Setting(
        "BODHI_MODEL_MEMORY_BUDGET_MB", _parse_non_negative_int, lambda: 0,
        "Memory the loaded models may use together, in MiB; 0 for no budget.",
        runtime_editable=True, minimum=0)
    max_requests_per_model = Setting(
        "BODHI_MAX_REQUESTS_PER_MODEL", _parse_non_negative_int, lambda: 8,
        "Requests sent to one model's server at once (it works on its --parallel slots' "
        "worth and holds the rest); more wait in the model's queue. At most 8, the "
        "connections the companion keeps to a model server; 0: that most.",
        runtime_editable=True, minimum=0)
    queue_per_model = Setting(
        "BODHI_QUEUE_PER_MODEL", _parse_non_negative_int, lambda: 512,
        "Requests that may wait for one model, in arrival order, while it is busy or "
        "loading; more get 429 with Retry-After. A request waits at most the model wait "
        "seconds (then 503); one whose client leaves is dropped from the queue.",
        runtime_editable=True, minimum=0)
    model_wait_secs = Setting(
        "BODHI_MODEL_WAIT_SECS", _parse_positive_int, lambda: 300,
        "How long a request waits for its model: in its queue, then for it to load (and "
        "for room to load it).")
    max_downloads = Setting("BODHI_MAX_DOWNLOADS", _parse_positive_int, lambda: 2,
                            "Model downloads that run at once; more wait their turn.")
    router_cooldown_secs = Setting(
        "BODHI_ROUTER_COOLDOWN_SECS", _parse_positive_int, lambda: 30,
        "A router alias skips a target that failed (429, 5xx, unreachable) for this many "
        "seconds, or for the Retry-After its provider gave.", runtime_editable=True, minimum=1)
    app_token_secs = Setting(
        "BODHI_APP_TOKEN_SECS", _parse_positive_int, lambda: 900,
        "Lifetime of the access tokens given to apps (web pages, OAuth clients); they refresh "
        "them before it ends.")
    app_history_days = Setting(
        "BODHI_APP_HISTORY_DAYS", _parse_non_negative_int, lambda: 30,
        "Days to keep ended app records (denied or expired access requests, revoked or "
        "expired grants, spent OAuth codes) before they are deleted.")
    app_activity_per_grant = Setting(
        "BODHI_APP_ACTIVITY_PER_GRANT", _parse_non_negative_int, lambda: 1000,
        "How many of an app's latest requests the record of app activity keeps per grant "
        "(method, path, model, status and duration; never what was sent). Older rows go, "
        "and so do rows older than the app history days (at least a day); 0 records "
        "nothing.",
        runtime_editable=True)
    encryption_key = Setting(
        "BODHI_ENCRYPTION_KEY", str, lambda: "",
        "Key for secrets stored in the databases: a base64-encoded 32-byte key, or a "
        "passphrase (12+ characters, stretched with scrypt). Empty: a key generated in "
        "$BODHI_HOME/encryption.key. Prefer the environment to the command line.",
        secret=True)
    hf_home = Setting("HF_HOME", _parse_path, _default_hf_home,
                      "Hugging Face home; models are found in and downloaded to its hub/ cache.")


SETTINGS: tuple[Setting[Any], ...] = tuple(
    row for row in vars(SettingsTable).values() if isinstance(row, Setting))

SETTINGS_BY_NAME: dict[str, Setting[Any]] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Resolved:
    value: Any
    source: Source


@dataclass(frozen=True)
class _Layers:
    cli: Mapping[str, Any]
    env: Mapping[str, str]
    file: Mapping[str, Any]


class Settings(SettingsTable):
    """Effective settings: each value with the source it came from.

    Read a value as its typed attribute (``settings.keep_alive_secs``); the settings API and
    ``bodhi config``, which list every setting, use ``items()``, ``resolved()`` and ``source()``.
    """

    def __init__(self, resolved: Mapping[str, Resolved], layers: _Layers | None = None) -> None:
        self._resolved = dict(resolved)
        self._layers = layers or _Layers({}, {}, {})

    def resolved(self, name: str) -> Resolved:
        return self._resolved[name]

    def source(self, name: str) -> Source:
        return self._resolved[name].source

    def items(self) -> list[tuple[Setting[Any], Resolved]]:
        return [(s, self._resolved[s.name]) for s in SETTINGS]

    def apply_database(self, values: Mapping[str, str]) -> None:
        """Re-resolve the runtime-editable settings with ``values`` as the database layer."""
        for setting in SETTINGS:
            if setting.runtime_editable:
                self._resolved[setting.name] = _resolve_one(
                    setting, self._layers.cli, self._layers.env, self._layers.file, values)

    @property
    def db_path(self) -> Path:
        """The main database: tokens, users, grants, downloads, settings edits."""
        return self.home / "bodhi.sqlite"

    @property
    def session_db_path(self) -> Path:
        """Browser sessions, kept apart so they can be wiped without touching the rest."""
        return self.home / "session.sqlite"


def _parse(setting: Setting[Any], raw: Any, where: str) -> Any:
    try:
        return setting.parse(str(raw))
    except ValueError as exc:
        raise ConfigError(f"{setting.name} from {where}: {exc}") from exc


def _read_settings_file(home: Path) -> dict[str, Any]:
    path = home / "settings.yaml"
    if not path.exists():
        return {}
    import yaml  # only a home with a settings file needs it

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of setting names to values")
    unknown = sorted(set(data) - set(SETTINGS_BY_NAME))
    if unknown:
        raise ConfigError(f"{path}: unknown settings: {', '.join(unknown)}")
    if SettingsTable.home.name in data:
        raise ConfigError(f"{path}: BODHI_HOME cannot be set in the file that lives inside it; "
                          "use the environment or --home")
    return {k: v for k, v in data.items() if v is not None}


def load_settings(
    cli: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Resolve every setting; ``cli`` holds raw values given on the command line."""
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    env = os.environ if env is None else env
    resolved: dict[str, Resolved] = {}

    home = SettingsTable.home
    resolved[home.name] = _resolve_one(home, cli, env, {})
    file_values = _read_settings_file(resolved[home.name].value)
    for setting in SETTINGS:
        if setting is not home:
            resolved[setting.name] = _resolve_one(setting, cli, env, file_values)
    return Settings(resolved, _Layers(cli, dict(env), file_values))


def _resolve_one(
    setting: Setting[Any], cli: Mapping[str, Any], env: Mapping[str, str],
    file_values: Mapping[str, Any], db_values: Mapping[str, str] | None = None,
) -> Resolved:
    if setting.name in cli:
        value = _parse(setting, cli[setting.name], "the command line")
        return Resolved(value, Source.COMMAND_LINE)
    if setting.env_var in env and env[setting.env_var] != "":
        value = _parse(setting, env[setting.env_var], "the environment")
        return Resolved(value, Source.ENVIRONMENT)
    if db_values and setting.name in db_values:
        return Resolved(_parse(setting, db_values[setting.name], "the database"),
                        Source.DATABASE)
    if setting.name in file_values:
        return Resolved(_parse(setting, file_values[setting.name], "settings.yaml"),
                        Source.SETTINGS_FILE)
    return Resolved(setting.default(), Source.DEFAULT)


MASKED = "********"


def plain_value(value: Any) -> Any:
    """``value`` as JSON and listings carry it: paths as text."""
    return str(value) if isinstance(value, Path) else value


def shown_value(setting: Setting[Any], value: Any) -> Any:
    """What a listing may show of ``value``: secrets only as whether they are set."""
    return MASKED if setting.secret and value else plain_value(value)


def reaching_flags(settings: Settings) -> list[str]:
    """The flags given on this command line that another ``bodhi`` command needs to reach the
    same companion (its home, address and public host), quoted for a shell."""
    return [f"{row.flag} {shlex.quote(str(settings.resolved(row.name).value))}"
            for row in (Settings.home, Settings.host, Settings.port, Settings.public_host)
            if settings.source(row.name) is Source.COMMAND_LINE]


def public_url(settings: Settings) -> str:
    """The URL clients use to reach this server (loopback when listening on every address)."""
    host = settings.public_host or settings.host
    if host in {"0.0.0.0", "::", ""}:
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def _doc_default(setting: Setting[Any]) -> str:
    value = setting.default()
    default = str(value).lower() if isinstance(value, bool) else str(value)
    home = str(Path.home())
    if default.startswith(home):
        default = "~" + default[len(home):]
    return f"`{default}`" if default else ""


def settings_markdown() -> str:
    """The settings table for the docs (docs/usage.md holds a copy that a test keeps equal)."""
    rows = ["| setting | default | editable at runtime | meaning |", "|---|---|---|---|"]
    for setting in SETTINGS:
        rows.append(f"| `{setting.name}` | {_doc_default(setting)} | "
                    f"{'yes' if setting.runtime_editable else ''} | {setting.help} |")
    return "\n".join(rows) + "\n"
