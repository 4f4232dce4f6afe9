"""The error JSON of each API family as pydantic models, for the API document only: the
bodies themselves are built by ``families/*.error_body``, and the schema test checks a real
error of each family against these."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from companion.core.schema import Schema


class BodhiErrorObject(Schema):
    model_config = ConfigDict(extra="allow")  # details such as tries_left

    message: str
    type: str
    code: str
    param: str | None = None


class BodhiError(Schema):
    error: BodhiErrorObject


class OpenaiErrorObject(Schema):
    model_config = ConfigDict(extra="allow")  # a model server's own refusal is relayed as is

    message: str
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class OpenaiError(Schema):
    error: OpenaiErrorObject


class OllamaError(Schema):
    error: str


class AnthropicErrorObject(Schema):
    type: str
    message: str


class AnthropicError(Schema):
    type: str
    error: AnthropicErrorObject


class GeminiErrorObject(Schema):
    code: int
    message: str
    status: str


class GeminiError(Schema):
    error: GeminiErrorObject


class OauthError(Schema):
    error: str
    error_description: str


# Family name (``families/*.FAMILY.name``) -> its error JSON.
ERROR_SCHEMAS: dict[str, type[BaseModel]] = {
    "bodhi": BodhiError, "openai": OpenaiError, "ollama": OllamaError,
    "anthropic": AnthropicError, "gemini": GeminiError, "oauth": OauthError}
