"""Google's Gemini API (v1beta, the Gemini Developer API) as pydantic models of its JSON.

The wire form is camelCase (``inlineData``, ``maxOutputTokens``), but Google's JSON parser also
takes the protobuf field names (``inline_data``), and the ``google-genai`` SDK sends some of
them (``inlineData: {"mime_type": ...}``, ``parameters_json_schema``), so every model accepts
both and serialises camelCase. Unknown fields are ignored (newer SDKs add options we need not
understand); the fields we translate are checked strictly.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic.alias_generators import to_camel

from companion.core.schema import Schema

Number = StrictInt | StrictFloat


class Wire(Schema):
    # The validators are built on first use, not at start.
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=True, extra="ignore",
                              defer_build=True)

    def wire(self) -> dict[str, Any]:
        """The camelCase JSON object, without the fields left unset."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Blob(Wire):
    mime_type: StrictStr = Field(min_length=1)
    data: StrictStr  # base64


class FileData(Wire):
    mime_type: StrictStr | None = None
    file_uri: StrictStr = Field(min_length=1)


class FunctionCall(Wire):
    id: StrictStr | None = None
    name: StrictStr = Field(min_length=1)
    args: dict[str, Any] | None = None


class FunctionResponse(Wire):
    id: StrictStr | None = None
    name: StrictStr = Field(min_length=1)
    response: dict[str, Any]


_DATA = ("text", "inline_data", "file_data", "function_call", "function_response")


class Part(Wire):
    """One piece of a turn: exactly one of its data fields."""

    text: StrictStr | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    thought: StrictBool | None = None
    thought_signature: StrictStr | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        present = [name for name in _DATA if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError("a part holds exactly one of text, inlineData, fileData, "
                             f"functionCall, functionResponse (got {len(present)})")
        return self


class Content(Wire):
    role: Literal["user", "model"] | None = None
    parts: list[Part] = Field(default_factory=list)


class SystemInstruction(Wire):
    role: StrictStr | None = None  # the SDK sends "user"; Google ignores it
    parts: list[Part] = Field(default_factory=list)


class FunctionDeclaration(Wire):
    name: StrictStr = Field(min_length=1)
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = None               # Google's OpenAPI subset
    parameters_json_schema: Any = None                     # plain JSON Schema
    response: dict[str, Any] | None = None
    response_json_schema: Any = None


class Tool(Wire):
    function_declarations: list[FunctionDeclaration] | None = None
    # Google's own tools (search, code execution, ...) have no local counterpart.
    google_search: dict[str, Any] | None = None
    google_search_retrieval: dict[str, Any] | None = None
    code_execution: dict[str, Any] | None = None
    url_context: dict[str, Any] | None = None


class FunctionCallingConfig(Wire):
    mode: Literal["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"] | None = None
    allowed_function_names: list[StrictStr] | None = None


class ToolConfig(Wire):
    function_calling_config: FunctionCallingConfig | None = None


class GenerationConfig(Wire):
    temperature: Number | None = Field(default=None, ge=0)
    top_p: Number | None = Field(default=None, ge=0)
    top_k: StrictInt | None = Field(default=None, ge=0)
    max_output_tokens: StrictInt | None = Field(default=None, ge=1)
    stop_sequences: list[StrictStr] | None = None
    candidate_count: StrictInt | None = Field(default=None, ge=1)
    response_mime_type: StrictStr | None = None
    response_schema: dict[str, Any] | None = None
    response_json_schema: Any = None
    seed: StrictInt | None = None
    presence_penalty: Number | None = None
    frequency_penalty: Number | None = None


class GenerateContentRequest(Wire):
    model: StrictStr | None = None  # inside countTokens' generateContentRequest
    contents: list[Content] = Field(min_length=1)
    system_instruction: SystemInstruction | None = None
    tools: list[Tool] | None = None
    tool_config: ToolConfig | None = None
    generation_config: GenerationConfig | None = None
    safety_settings: list[dict[str, Any]] | None = None   # accepted, not applied locally
    cached_content: StrictStr | None = None


class CountTokensRequest(Wire):
    # Empty contents are refused as generateContent refuses them (a 400, not a failure later).
    contents: list[Content] | None = Field(default=None, min_length=1)
    generate_content_request: GenerateContentRequest | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.contents is None) == (self.generate_content_request is None):
            raise ValueError("give exactly one of contents and generateContentRequest")
        return self


class EmbedContentRequest(Wire):
    model: StrictStr | None = None
    content: Content
    task_type: StrictStr | None = None
    title: StrictStr | None = None
    output_dimensionality: StrictInt | None = Field(default=None, ge=1)


class BatchEmbedContentsRequest(Wire):
    requests: list[EmbedContentRequest] = Field(min_length=1)


# Replies ----------------------------------------------------------------------------------

FinishReason = StrictStr  # STOP, MAX_TOKENS, SAFETY, RECITATION, ... (Google adds new ones)


class Candidate(Wire):
    content: Content | None = None
    finish_reason: FinishReason | None = None
    index: StrictInt | None = None


class UsageMetadata(Wire):
    prompt_token_count: StrictInt | None = None
    candidates_token_count: StrictInt | None = None
    total_token_count: StrictInt | None = None
    thoughts_token_count: StrictInt | None = None


class GenerateContentResponse(Wire):
    candidates: list[Candidate] | None = None
    prompt_feedback: dict[str, Any] | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: StrictStr | None = None
    response_id: StrictStr | None = None


class CountTokensResponse(Wire):
    total_tokens: StrictInt


class Embedding(Wire):
    values: list[Number]


class EmbedContentResponse(Wire):
    embedding: Embedding


class BatchEmbedContentsResponse(Wire):
    embeddings: list[Embedding]


class Model(Wire):
    name: StrictStr = Field(min_length=1)
    display_name: StrictStr | None = None
    description: StrictStr | None = None
    version: StrictStr | None = None
    input_token_limit: StrictInt | None = None
    output_token_limit: StrictInt | None = None
    supported_generation_methods: list[StrictStr] | None = None


class ListModelsResponse(Wire):
    models: list[Model] = Field(default_factory=list)
    next_page_token: StrictStr | None = None


class ErrorDetail(Wire):
    code: StrictInt | None = None
    message: StrictStr = ""
    status: StrictStr | None = None
    details: list[dict[str, Any]] | None = None   # google.rpc ErrorInfo and the like


class ErrorResponse(Wire):
    error: ErrorDetail
