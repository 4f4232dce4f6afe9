"""Pydantic models for the OpenAI-compatible request bodies we validate before relaying.

They check what the companion relies on and what clients most often get wrong; other
fields pass through to llama.cpp unchanged. The model objects of ``/v1/models`` are shaped by
``ModelObject`` and ``ModelList`` (replies relayed from a model server have no model here).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import ErrorDetails

from companion.core.errors import BadRequestError
from companion.core.schema import Schema

# The roles OpenAI's Chat Completions accepts; it refuses any other with ``invalid_value``.
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class _Open(Schema):
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Open):
    role: Role
    content: StrictStr | list[dict[str, Any]] | None = None


class _Generation(_Open):
    model: StrictStr = Field(min_length=1)
    stream: StrictBool | None = None
    max_tokens: StrictInt | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=None, ge=0)


class ChatCompletionRequest(_Generation):
    messages: list[ChatMessage] = Field(min_length=1)
    # Rewritten before relaying (families/openai_tools.py), so their shape is checked here.
    tools: list[dict[str, Any]] | None = None
    tool_choice: StrictStr | dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: StrictStr | dict[str, Any] | None = None


class CompletionRequest(_Generation):
    prompt: StrictStr | list[StrictStr] | list[StrictInt] | list[list[StrictInt]]


class ResponseRequest(_Open):
    """OpenAI's Responses API, which llama.cpp serves itself (text and function input)."""

    model: StrictStr = Field(min_length=1)
    input: StrictStr | list[dict[str, Any]]
    stream: StrictBool | None = None
    max_output_tokens: StrictInt | None = Field(default=None, ge=1)


class EmbeddingRequest(_Open):
    model: StrictStr = Field(min_length=1)
    input: StrictStr | list[StrictStr] | list[StrictInt] | list[list[StrictInt]]


def openai_param(loc: tuple[int | str, ...]) -> str | None:
    """A location as OpenAI names it in errors: ``messages[0].role``."""
    param = ""
    for part in loc:
        param += f"[{part}]" if isinstance(part, int) else f".{part}" if param else part
    return param or None


_BRANCHES = frozenset({"str", "int", "bool", "float", "dict", "list", "none"})
_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               list: "an array", dict: "an object", type(None): "null"}
_TYPE_NAMES = {"string_type": "a string", "int_type": "an integer", "int_from_float":
               "an integer", "bool_type": "a boolean", "list_type": "an array",
               "model_type": "an object", "dict_type": "an object",
               "float_type": "a number", "model_attributes_type": "an object"}


def _openai_error(first: ErrorDetails, param: str | None) -> BadRequestError:
    kind, got = first["type"], first.get("input")
    if kind == "missing":
        return BadRequestError(f"Missing required parameter: '{param}'.",
                               code="missing_required_parameter", param=param)
    if kind == "literal_error":
        return BadRequestError(f"Invalid value: {got!r}. Supported values are: "
                               f"{first.get('ctx', {}).get('expected', '')}.",
                               code="invalid_value", param=param)
    if kind in _TYPE_NAMES:
        return BadRequestError(f"Invalid type for '{param}': expected {_TYPE_NAMES[kind]}, "
                               f"but got {_JSON_NAMES.get(type(got), 'another type')} instead.",
                               code="invalid_type", param=param)
    return BadRequestError(f"Invalid value for '{param}': {first['msg']}.",
                           code="invalid_value", param=param)


def describe_error(exc: ValidationError) -> BadRequestError:
    """The first schema error in OpenAI's words, codes and ``param`` notation (its error
    objects say ``missing_required_parameter``, ``invalid_type`` or ``invalid_value``)."""
    first = exc.errors()[0]
    # A union's failed branch adds its own name (``str``, ``list[...]``) to the location.
    loc = tuple(part for part in first["loc"]
                if not (isinstance(part, str) and ("[" in part or part in _BRANCHES)))
    return _openai_error(first, openai_param(loc))


class ModelObject(Schema):
    model_config = ConfigDict(extra="forbid")

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(Schema):
    model_config = ConfigDict(extra="forbid")

    object: Literal["list"] = "list"
    data: list[ModelObject]
