"""Remote API model records: a provider (API format, base URL, key) and the model names the
companion exposes for it.

A client asks for ``prefix + m`` for each provider model ``m`` the record lists, or for any
``prefix + X`` when the record forwards everything under its prefix; the provider receives
``m`` / ``X``. Exposed names must not collide with a local model, another record's names or a
router alias (409).

The key is write-only: it is sealed at rest (AAD ``api_model_key:<id>``, so a sealed key
copied to another row does not open) and responses only say whether there is one, with its
last four characters when it is long enough for that to give nothing away. On update, an
absent ``api_key`` keeps the stored key; ``null`` or ``""`` removes it.

Records are few and read on every request, so they are held in memory and reloaded from the
database after each change made here.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, StrictBool, StrictStr

from companion.core.errors import BadRequestError, ConflictError, NotFoundError
from companion.core.schema import Schema
from companion.core.secrets_box import SecretBox
from companion.models import ModelCatalog, RemoteModel
from companion.models.alias import AliasSource
from companion.providers.dialects import dialect_for
from companion.storage.api_models import ApiModelRecord, ApiModelRepository

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MODEL_NAME = re.compile(r"^[^\s\x00-\x1f]{1,200}$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# Headers the HTTP client sets itself.
RESERVED_HEADERS = frozenset({"host", "content-type", "content-length", "connection",
                              "transfer-encoding"})
# The request's own fields; ``extra_body`` may add others, never replace these.
RESERVED_BODY = frozenset({"model", "messages", "input", "stream", "prompt"})
HINT_MIN_KEY_CHARS = 12


def key_purpose(record_id: str) -> str:
    return f"api_model_key:{record_id}"


def key_hint(key: str) -> str | None:
    return "…" + key[-4:] if len(key) >= HINT_MIN_KEY_CHARS else None


class ApiModelBody(Schema):
    """``POST /bodhi/v1/models/api`` and ``PUT .../{id}`` (``id`` is ignored on PUT)."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr | None = Field(default=None, pattern=ID_PATTERN)
    api_format: StrictStr
    base_url: StrictStr = Field(max_length=2000)
    api_key: StrictStr | None = Field(default=None, max_length=4096)
    models: list[StrictStr] = Field(default_factory=list, max_length=1000)
    prefix: StrictStr | None = Field(default=None, max_length=64)
    forward_all_with_prefix: StrictBool = False
    extra_headers: dict[str, StrictStr] = Field(default_factory=dict, max_length=50)
    extra_body: dict[str, Any] = Field(default_factory=dict, max_length=50)


@dataclass(frozen=True)
class Provider:
    """Everything a call on a provider needs; ``label`` names it in errors (never the key)."""

    label: str
    api_format: str
    base_url: str
    api_key: str | None = field(repr=False)
    extra_headers: dict[str, str]
    extra_body: dict[str, Any]


@dataclass(frozen=True)
class ApiModel:
    """A record as the API shows it: no key, only whether there is one."""

    id: str
    api_format: str
    base_url: str
    models: tuple[str, ...]
    prefix: str
    forward_all_with_prefix: bool
    extra_headers: dict[str, str]
    extra_body: dict[str, Any]
    has_api_key: bool
    api_key_hint: str | None
    created_at: int
    updated_at: int

    @property
    def names(self) -> list[str]:
        """The model names clients see (listed; forward-all records list these too)."""
        return [self.prefix + m for m in self.models]

    def listed(self, name: str, upstream: str) -> RemoteModel:
        """The exposed ``name`` (the provider's ``upstream`` id) in the model lists."""
        return RemoteModel(name, AliasSource.API, f"api/{self.id}/{upstream}",
                           owned_by=self.api_format,
                           details={"api_model_id": self.id, "api_format": self.api_format,
                                    "model": upstream})

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "api_format": self.api_format, "base_url": self.base_url,
                "models": list(self.models), "prefix": self.prefix or None,
                "forward_all_with_prefix": self.forward_all_with_prefix,
                "extra_headers": self.extra_headers, "extra_body": self.extra_body,
                "has_api_key": self.has_api_key, "api_key_hint": self.api_key_hint,
                "created_at": self.created_at, "updated_at": self.updated_at}


def _public(r: ApiModelRecord) -> ApiModel:
    return ApiModel(r.id, r.api_format, r.base_url, tuple(json.loads(r.models)),
                    r.prefix or "", bool(r.forward_all_with_prefix),
                    json.loads(r.extra_headers), json.loads(r.extra_body),
                    r.api_key is not None, r.api_key_hint, r.created_at, r.updated_at)


def normalise_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadRequestError("base_url must be an http(s) URL with a host, such as "
                              "https://api.openai.com/v1.", code="invalid_base_url",
                              param="base_url")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise BadRequestError("base_url takes no credentials, query or fragment; the key "
                              "goes in api_key.", code="invalid_base_url", param="base_url")
    return parts._replace(scheme=parts.scheme.lower()).geturl().rstrip("/")


def check_connection(body: ApiModelBody) -> None:
    """What a call on the provider needs: a known format, a URL, usable headers."""
    dialect_for(body.api_format)
    normalise_base_url(body.base_url)
    for header in body.extra_headers:
        if not HEADER_NAME.match(header) or header.lower() in RESERVED_HEADERS:
            raise BadRequestError(f"'{header[:50]}' cannot be an extra header.",
                                  code="invalid_value", param="extra_headers")


def check_fields(body: ApiModelBody) -> None:
    """The checks a record needs beyond its schema (each a 400 naming the field)."""
    check_connection(body)
    for name in body.models:
        if not MODEL_NAME.match(name):
            raise BadRequestError(f"'{name[:50]}' is not a model name (1 to 200 characters, "
                                  "no spaces).", code="invalid_value", param="models")
    if body.prefix is not None and body.prefix and not MODEL_NAME.match(body.prefix):
        raise BadRequestError("prefix must have no spaces.", code="invalid_value",
                              param="prefix")
    if body.forward_all_with_prefix and not body.prefix:
        raise BadRequestError("forward_all_with_prefix needs a prefix: every name that "
                              "starts with it goes to this provider.", code="invalid_value",
                              param="prefix")
    if not body.models and not body.forward_all_with_prefix:
        raise BadRequestError("List at least one model (or forward every name under a "
                              "prefix).", code="invalid_value", param="models")
    reserved = RESERVED_BODY & set(body.extra_body)
    if reserved:
        raise BadRequestError(f"extra_body cannot set {', '.join(sorted(reserved))}; the "
                              "request does.", code="invalid_value", param="extra_body")


class ApiModelService:
    """Record CRUD with its checks, and the lookups the request path makes (in memory).

    ``router_names`` gives the router aliases' names, which exposed names must not take;
    ``on_change`` runs after each change (the ``models.changed`` event).
    """

    def __init__(self, repo: ApiModelRepository, box: SecretBox, catalog: ModelCatalog,
                 router_names: Callable[[], Iterable[str]] = tuple,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self._repo = repo
        self._on_change = on_change
        self._box = box
        self._catalog = catalog
        self._router_names = router_names
        self._records: dict[str, ApiModelRecord] = {}
        self._models: dict[str, ApiModel] = {}

    async def load(self) -> None:
        """Read every record into memory (at startup and after each change)."""
        records = await self._repo.list_all()
        self._records = {r.id: r for r in records}
        self._models = {r.id: _public(r) for r in records}

    def all(self) -> list[ApiModel]:
        return list(self._models.values())

    def get(self, record_id: str) -> ApiModel:
        found = self._models.get(record_id)
        if found is None:
            raise NotFoundError(f"No API model with id '{record_id}'.",
                                code="api_model_not_found")
        return found

    def names(self) -> list[str]:
        return [name for model in self._models.values() for name in model.names]

    def resolve(self, name: str) -> tuple[ApiModel, str] | None:
        """The record serving ``name`` and the provider's id for it: an exact exposed name
        first, then the longest forward-all prefix ``name`` starts with."""
        for model in self._models.values():
            if name.startswith(model.prefix) and name[len(model.prefix):] in model.models:
                return model, name[len(model.prefix):]
        forwarding = sorted((m for m in self._models.values() if m.forward_all_with_prefix
                             and name.startswith(m.prefix) and len(name) > len(m.prefix)),
                            key=lambda m: -len(m.prefix))
        return (forwarding[0], name[len(forwarding[0].prefix):]) if forwarding else None

    def provider(self, record_id: str) -> Provider:
        """The record's provider with its key opened (kept in memory only for the call)."""
        model, record = self.get(record_id), self._records[record_id]
        key = self._box.open(record.api_key, key_purpose(record_id)) \
            if record.api_key else None
        return Provider(model.id, model.api_format, model.base_url, key,
                        model.extra_headers, model.extra_body)

    def edited(self, record_id: str, body: ApiModelBody) -> Provider:
        """The saved record with unsaved fields over it (a Test or a Fetch while editing):
        the body's connection, with the stored key unless the body gives a new one."""
        stored = self.provider(record_id)
        check_connection(body)
        return Provider(stored.label, body.api_format, normalise_base_url(body.base_url),
                        body.api_key or stored.api_key, body.extra_headers, body.extra_body)

    @staticmethod
    def transient(body: ApiModelBody) -> Provider:
        """A provider from fields not stored (``/test`` and ``/fetch-models`` before saving)."""
        check_connection(body)
        return Provider("(unsaved)", body.api_format, normalise_base_url(body.base_url),
                        body.api_key or None, body.extra_headers, body.extra_body)

    async def create(self, body: ApiModelBody) -> ApiModel:
        check_fields(body)
        record_id = body.id or str(uuid.uuid4())
        if record_id in self._models or await self._repo.get(record_id) is not None:
            raise ConflictError(f"An API model with id '{record_id}' exists.",
                                code="api_model_exists", param="id")
        now = int(time.time())
        record = self._record(record_id, body, body.api_key or None, now, now)
        self._check_names(_public(record))
        await self._repo.insert(record)
        await self._reload()
        return self.get(record_id)

    async def update(self, record_id: str, body: ApiModelBody, key_given: bool) -> ApiModel:
        """``key_given``: the body named ``api_key`` (even as null); else the key is kept."""
        old = self.get(record_id)
        check_fields(body)
        stored = self._records[record_id]
        key = (body.api_key or None) if key_given else (
            self._box.open(stored.api_key, key_purpose(record_id)) if stored.api_key else None)
        record = self._record(record_id, body, key, old.created_at, int(time.time()))
        self._check_names(_public(record))
        await self._repo.update(record)
        await self._reload()
        return self.get(record_id)

    async def delete(self, record_id: str) -> None:
        self.get(record_id)
        await self._repo.delete(record_id)
        await self._reload()

    async def _reload(self) -> None:
        await self.load()
        self._on_change()

    def _record(self, record_id: str, body: ApiModelBody, key: str | None, created: int,
                updated: int) -> ApiModelRecord:
        return ApiModelRecord(
            record_id, body.api_format, normalise_base_url(body.base_url),
            self._box.seal(key, key_purpose(record_id)) if key else None,
            key_hint(key) if key else None, json.dumps(list(dict.fromkeys(body.models))),
            body.prefix or None, int(body.forward_all_with_prefix),
            json.dumps(body.extra_headers), json.dumps(body.extra_body), created, updated)

    def _check_names(self, model: ApiModel) -> None:
        others = [m for m in self._models.values() if m.id != model.id]
        taken = {name: f"the API model '{m.id}'" for m in others for name in m.names}
        taken.update({name: "a router alias" for name in self._router_names()})
        for name in model.names:
            owner = taken.get(name) or ("a local model" if self._catalog.has(name) else None)
            if owner is not None:
                raise ConflictError(f"The model name '{name}' is already taken by {owner}.",
                                    code="model_name_taken", param="models")
        if model.forward_all_with_prefix:
            for other in others:
                if other.forward_all_with_prefix and other.prefix == model.prefix:
                    raise ConflictError(f"The API model '{other.id}' already forwards every "
                                        f"name under '{model.prefix}'.",
                                        code="model_name_taken", param="prefix")
