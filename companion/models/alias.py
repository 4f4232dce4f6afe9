"""``ModelAlias``: a name clients use for a GGUF file plus its launch and request defaults;
``RemoteModel``: a name listed beside them that no local file serves."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from companion.core.schema import Schema
from companion.models.launch_flags import refusal_message, refused_flag


class AliasSource(StrEnum):
    USER = "user"          # $BODHI_HOME/aliases/*.yaml
    MODEL = "model"        # a GGUF file found in the HF cache
    EMBEDDED = "embedded"  # shipped inside an installed Python package
    API = "api"            # a remote provider's model (companion.providers)
    ROUTER = "router"      # a router alias over other models (companion.providers)


@lru_cache(maxsize=256)
def _split_flags(entries: tuple[str, ...]) -> tuple[str, ...]:
    # Asked on every request (is the running child's argv still this alias's?); shlex is slow.
    return tuple(arg for entry in entries for arg in shlex.split(entry))


class ModelAlias(Schema):
    """The alias YAML format (see API.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alias: str = Field(min_length=1, max_length=200)
    repo: str = Field(min_length=1)
    filename: str = Field(min_length=1)
    snapshot: str = "main"
    context_params: list[str] = Field(default_factory=list)
    request_params: dict[str, Any] = Field(default_factory=dict)
    source: AliasSource = AliasSource.USER

    @field_validator("context_params")
    @classmethod
    def _flags_allowed(cls, value: list[str]) -> list[str]:
        # shlex raises ValueError on unbalanced quotes.
        flag = refused_flag([arg for entry in value for arg in shlex.split(entry)])
        if flag is not None:
            raise PydanticCustomError("flag_not_allowed", refusal_message(flag))
        return value

    def launch_flags(self) -> list[str]:
        """``context_params`` as llama-server argv entries."""
        return list(_split_flags(tuple(self.context_params)))

    def fill_request(self, body: dict[str, Any]) -> dict[str, Any]:
        """Request defaults fill only the fields the request lacks."""
        if not self.request_params:
            return body
        return {**self.request_params, **body}


@dataclass(frozen=True)
class RemoteModel:
    """A remote API model's name or a router alias (``companion.providers``), as the model
    lists of every family show it."""

    alias: str
    source: AliasSource         # API or ROUTER
    origin: str                 # what serves it: ``api/<record>/<provider id>``, ``router/<how>``
    owned_by: str               # ``/v1/models``' owned_by: the API format; "system" for a router
    details: Mapping[str, Any]  # what ``/bodhi/v1/models`` shows besides the name and source


# Every entry of a model list.
ListedModel = ModelAlias | RemoteModel
