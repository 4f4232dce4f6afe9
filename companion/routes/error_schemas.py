"""The error JSON of each API family as pydantic models, for the API document only: the
bodies themselves are built by ``families/*.error_body``, and the schema test checks a real
error of each family against these."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class BodhiErrorObject(BaseModel):
    model_config = ConfigDict(extra="allow")  # details such as tries_left

    message: str
    type: str
    code: str
    param: str | None = None


class BodhiError(BaseModel):
    error: BodhiErrorObject


class OpenaiErrorObject(BaseModel):
    model_config = ConfigDict(extra="allow")  # a model server's own refusal is relayed as is

    message: str
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class OpenaiError(BaseModel):
    error: OpenaiErrorObject


class OllamaError(BaseModel):
    error: str


class AnthropicErrorObject(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    type: str
    error: AnthropicErrorObject


class GeminiErrorObject(BaseModel):
    code: int
    message: str
    status: str


class GeminiError(BaseModel):
    error: GeminiErrorObject


class OauthError(BaseModel):
    error: str
    error_description: str


# Family name (``families/*.FAMILY.name``) -> its error JSON.
ERROR_SCHEMAS: dict[str, type[BaseModel]] = {
    "bodhi": BodhiError, "openai": OpenaiError, "ollama": OllamaError,
    "anthropic": AnthropicError, "gemini": GeminiError, "oauth": OauthError}
