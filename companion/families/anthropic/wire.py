"""Anthropic's Messages API on the wire, as pydantic models (the public API reference).

Requests (``MessagesRequest``, ``CountTokensRequest``) are what Anthropic's clients send us and
what we send Anthropic's API; replies (``Message``, the stream events) what it answers. Content
blocks are told apart by their ``type``. Request models ignore top-level members they do not
know, so a newer client's options do not break a request; a content block of a type we do not
translate is refused, naming where it is.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr

from companion.core.schema import Schema


class _Wire(Schema):
    # Known members are checked; others (``cache_control``, ``citations``, newer options)
    # are accepted and not translated. The validators are built on first use, not at start.
    model_config = ConfigDict(extra="allow", defer_build=True)


class Base64Source(_Wire):
    type: Literal["base64"]
    media_type: StrictStr
    data: StrictStr


class UrlSource(_Wire):
    type: Literal["url"]
    url: StrictStr


class TextSource(_Wire):
    """A plain-text document's body."""

    type: Literal["text"]
    media_type: StrictStr = "text/plain"
    data: StrictStr


class TextBlock(_Wire):
    type: Literal["text"]
    text: StrictStr


class ImageBlock(_Wire):
    type: Literal["image"]
    source: Annotated[Base64Source | UrlSource, Field(discriminator="type")]


class DocumentBlock(_Wire):
    type: Literal["document"]
    source: Annotated[Base64Source | UrlSource | TextSource, Field(discriminator="type")]
    title: StrictStr | None = None


class ToolUseBlock(_Wire):
    type: Literal["tool_use"]
    id: StrictStr
    name: StrictStr
    input: dict[str, Any]


ToolResultPart = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class ToolResultBlock(_Wire):
    type: Literal["tool_result"]
    tool_use_id: StrictStr
    content: StrictStr | list[ToolResultPart] | None = None
    is_error: StrictBool | None = None


class ThinkingBlock(_Wire):
    """A previous turn's reasoning; kept by clients, not shown to a model that did not write it."""

    type: Literal["thinking"]
    thinking: StrictStr
    signature: StrictStr | None = None


class RedactedThinkingBlock(_Wire):
    type: Literal["redacted_thinking"]
    data: StrictStr


Block = Annotated[TextBlock | ImageBlock | DocumentBlock | ToolUseBlock | ToolResultBlock
                  | ThinkingBlock | RedactedThinkingBlock, Field(discriminator="type")]


class InputMessage(_Wire):
    role: Literal["user", "assistant"]
    content: StrictStr | list[Block]


class Tool(_Wire):
    """A client tool; Anthropic's server tools (``web_search_...``) name another ``type``."""

    type: Literal["custom"] | None = None
    name: StrictStr = Field(min_length=1)
    description: StrictStr | None = None
    input_schema: dict[str, Any]


class ToolChoice(_Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: StrictStr | None = None
    disable_parallel_tool_use: StrictBool | None = None


class Thinking(_Wire):
    type: StrictStr  # "enabled", "disabled", "adaptive", ...
    budget_tokens: StrictInt | None = None


class Metadata(_Wire):
    user_id: StrictStr | None = None


class _Conversation(Schema):
    model_config = ConfigDict(extra="ignore")

    model: StrictStr = Field(min_length=1)
    messages: list[InputMessage]
    system: StrictStr | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None


class MessagesRequest(_Conversation):
    max_tokens: StrictInt = Field(ge=1)
    stop_sequences: list[StrictStr] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: StrictInt | None = Field(default=None, ge=0)
    stream: StrictBool | None = None
    metadata: Metadata | None = None


class CountTokensRequest(_Conversation):
    pass


class CountTokensReply(_Wire):
    input_tokens: StrictInt


# Replies

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn",
                     "refusal", "model_context_window_exceeded"]


class Usage(_Wire):
    input_tokens: StrictInt = 0
    output_tokens: StrictInt = 0
    cache_creation_input_tokens: StrictInt | None = None
    cache_read_input_tokens: StrictInt | None = None


class ReplyText(_Wire):
    type: Literal["text"]
    text: StrictStr


class ReplyToolUse(_Wire):
    type: Literal["tool_use"]
    id: StrictStr
    name: StrictStr
    input: dict[str, Any]


class ReplyOther(_Wire):
    """A block a model of ours does not write (thinking, server tool results): skipped."""

    type: Literal["thinking", "redacted_thinking", "server_tool_use", "web_search_tool_result"]


ReplyBlock = Annotated[ReplyText | ReplyToolUse | ReplyOther, Field(discriminator="type")]


class Message(_Wire):
    id: StrictStr
    type: Literal["message"]
    role: Literal["assistant"]
    model: StrictStr
    content: list[ReplyBlock]
    stop_reason: StopReason | None = None
    stop_sequence: StrictStr | None = None
    usage: Usage


class ErrorDetail(_Wire):
    type: StrictStr
    message: StrictStr


class ErrorEnvelope(_Wire):
    type: Literal["error"]
    error: ErrorDetail


class ModelInfo(_Wire):
    id: StrictStr
    type: Literal["model"] = "model"
    display_name: StrictStr | None = None
    created_at: StrictStr | None = None


class ModelList(_Wire):
    data: list[ModelInfo]
    has_more: StrictBool = False
    first_id: StrictStr | None = None
    last_id: StrictStr | None = None


# Stream events

class MessageStart(_Wire):
    type: Literal["message_start"]
    message: Message


class ContentBlockStart(_Wire):
    type: Literal["content_block_start"]
    index: StrictInt
    content_block: ReplyBlock


class TextDelta(_Wire):
    type: Literal["text_delta"]
    text: StrictStr


class InputJsonDelta(_Wire):
    type: Literal["input_json_delta"]
    partial_json: StrictStr


class OtherDelta(_Wire):
    """Reasoning, its signature, citations: nothing an OpenAI-shaped client gets."""

    type: Literal["thinking_delta", "signature_delta", "citations_delta"]


class ContentBlockDelta(_Wire):
    type: Literal["content_block_delta"]
    index: StrictInt
    delta: Annotated[TextDelta | InputJsonDelta | OtherDelta, Field(discriminator="type")]


class ContentBlockStop(_Wire):
    type: Literal["content_block_stop"]
    index: StrictInt


class MessageDeltaBody(_Wire):
    stop_reason: StopReason | None = None
    stop_sequence: StrictStr | None = None


class DeltaUsage(_Wire):
    output_tokens: StrictInt
    input_tokens: StrictInt | None = None


class MessageDelta(_Wire):
    type: Literal["message_delta"]
    delta: MessageDeltaBody
    usage: DeltaUsage


class MessageStop(_Wire):
    type: Literal["message_stop"]


class Ping(_Wire):
    type: Literal["ping"]


class ErrorEvent(_Wire):
    type: Literal["error"]
    error: ErrorDetail


StreamEvent = Annotated[MessageStart | ContentBlockStart | ContentBlockDelta | ContentBlockStop
                        | MessageDelta | MessageStop | Ping | ErrorEvent,
                        Field(discriminator="type")]
