"""The JSON replies of Bodhi's own resources as pydantic models: handlers pass what they
answer through ``shaped(Model, data)``, and ``@documented(response=Model)`` puts the same model
in the API document, so the document and the replies cannot drift apart (an unknown or
mistyped field is a server error that the tests see, not a silent difference).

Fields with a default may be left out of a reply (``shaped`` keeps only the fields given);
those without one are always there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from companion.core.schema import Schema

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def shaped(model: type[M], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` checked against ``model`` and serialised by it."""
    reply: dict[str, Any] = model.model_validate(data).model_dump(mode="json",
                                                                  exclude_unset=True)
    return reply


class Reply(Schema):
    # Built on first use (a reply or the API document), not at start.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Page(Reply, Generic[T]):
    """Every list route (``routes/paging.py``)."""

    data: list[T]
    total: int
    page: int
    page_size: int


class Items(Reply, Generic[T]):
    """A short list that is not paged."""

    data: list[T]


# ---- models, files, loaded models, downloads -------------------------------------------

class LocalAlias(Reply):
    """A model alias over a GGUF file: a user alias (YAML), a file found in the cache, or the
    embedded model."""

    alias: str
    repo: str
    filename: str
    snapshot: str
    context_params: list[str]
    request_params: dict[str, Any]
    source: Literal["user", "model", "embedded"]


class ApiAlias(Reply):
    """A remote provider's model, through an API model record."""

    alias: str
    source: Literal["api"]
    api_model_id: str
    api_format: str
    model: str


class RouterAliasEntry(Reply):
    """A router alias as a model: its targets tried in order or in turn."""

    alias: str
    source: Literal["router"]
    targets: list[str]
    strategy: str


AnyAlias = LocalAlias | ApiAlias | RouterAliasEntry


class AliasFileProblem(Reply):
    file: str
    message: str


class ModelPage(Page[LocalAlias | ApiAlias | RouterAliasEntry]):
    """Models, with the alias files that could not be read."""

    errors: list[AliasFileProblem]


class UserAliasPage(Page[LocalAlias]):
    errors: list[AliasFileProblem]


class ModelFileOut(Reply):
    repo: str
    filename: str
    snapshot: str
    size: int
    architecture: str | None
    context_length: int | None
    chat_template: bool
    quantization: str | None
    parameters: str | None
    error: str | None


class DeletedFile(Reply):
    repo: str
    filename: str
    snapshots: int


class LoadedModel(Reply):
    alias: str
    pid: int | None
    port: int | None      # None while a first start has not picked its port yet
    state: str
    loaded_at: float | None
    last_used: float
    in_flight: int
    queued: int           # requests waiting for it: in its queue, or for it to load
    queue_oldest_wait: float   # seconds the first request in its queue has waited; 0: none
    queue_average_wait: float  # mean queue wait of its latest 100 requests, in seconds
    rss: int | None
    embeddings: bool
    model_path: str


class Unloaded(Reply):
    alias: str
    unloaded: bool


class DownloadJobOut(Reply):
    id: str
    repo: str
    filename: str
    status: str
    total_bytes: int | None
    downloaded_bytes: int
    bytes_per_s: float | None
    eta_s: float | None
    error: str | None
    # disk_full, file_too_large (the partial file is kept: free space, then retry) or
    # download_failed; None unless the job failed
    error_code: str | None
    created_at: int
    updated_at: int


# ---- API models and router aliases ---------------------------------------------------------

class ApiModelOut(Reply):
    id: str
    api_format: str
    base_url: str
    models: list[str]
    prefix: str | None
    forward_all_with_prefix: bool
    extra_headers: dict[str, str]
    extra_body: dict[str, Any]
    has_api_key: bool
    api_key_hint: str | None
    created_at: int
    updated_at: int


class RouterAliasOut(Reply):
    alias: str
    targets: list[str]
    strategy: str
    created_at: int
    updated_at: int


# ---- tokens, settings, identity -------------------------------------------------------------

class TokenOut(Reply):
    id: str
    name: str
    scopes: str
    status: Literal["active", "inactive"]
    models: list[str] | None
    mcps: Literal["all"] | list[str]
    expires_at: int | None
    created_at: int
    updated_at: int
    last_used_at: int | None = Field(description=(
        "When the token was last accepted (Unix seconds); null if never. Uses are kept in "
        "memory and written to the database every few seconds, not on each request; this "
        "reply already counts the ones not yet written."))


class NewToken(TokenOut):
    """A new token: the only time its secret is shown."""

    token: str


class SettingOut(Reply):
    key: str
    current_value: Any
    default_value: Any
    source: str
    metadata: dict[str, Any]


class ServerInfoOut(Reply):
    version: str
    status: str
    auth_mode: str
    name: str | None
    url: str


class CallerOut(Reply):
    """Who is calling: ``logged_out``, ``logged_in`` (a browser session) or the credential
    kind (``api_token``, ``app_token``, ``extension``)."""

    auth_status: str
    user_id: str | None = None
    username: str | None = None
    role: str | None = None
    scopes: list[str] | None = None


class UserOut(Reply):
    user_id: str
    username: str | None
    email: str | None
    role: str | None
    created_at: int
    updated_at: int


class RoleRequestOut(Reply):
    id: int
    user_id: str
    username: str | None
    status: str
    role: str | None
    reviewer_id: str | None
    created_at: int
    updated_at: int


# ---- apps and MCP ---------------------------------------------------------------------------

class GrantOut(Reply):
    id: str
    app: str
    app_kind: str
    app_name: str | None
    scopes: list[str]
    models: list[str] | None
    mcps: list[str]
    remember: bool
    status: str
    created_at: int
    expires_at: int | None
    last_used_at: int | None


class McpInstanceSummary(Reply):
    id: str
    name: str
    slug: str
    server: str


class ListedGrant(GrantOut):
    """A grant in the list: its MCP instances described."""

    mcps: list[McpInstanceSummary]  # type: ignore[assignment]


class AppActivityEntry(Reply):
    """One request an app made with its token: its outline, never what it sent."""

    id: int
    at: float
    method: str
    path: str
    model: str | None
    status: int
    duration_ms: int


class AppActivityPage(Page[AppActivityEntry]):
    """A grant's activity, newest first, and the grant's last use (as of now)."""

    grant_id: str
    app: str
    last_used_at: int | None


class McpServerOut(Reply):
    id: str
    name: str
    description: str | None
    enabled: bool
    kind: Literal["remote", "stdio"]
    url: str | None
    auth_config: dict[str, Any]
    created_at: int
    updated_at: int
    command: str | None = None
    args: list[str] | None = None
    cwd: str | None = None
    env_keys: list[str] | None = None


class McpServerSummary(Reply):
    id: str
    name: str
    kind: str
    url: str | None


class McpInstanceOut(Reply):
    id: str
    server_id: str
    server: McpServerSummary
    name: str
    slug: str
    enabled: bool
    server_enabled: bool
    credential_keys: list[str]
    auth_status: str
    auth_error: str | None
    allowed_tools: list[str] | None
    mcp_path: str
    created_at: int
    updated_at: int
