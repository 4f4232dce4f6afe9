"""Which ``ProviderDialect`` speaks each API format a record may name.

``API_FORMATS`` are the formats a record may be created with; ``DIALECTS`` are those the
companion can call now. Adding a format's dialect is one line here.
"""

from __future__ import annotations

from companion.core.errors import BadRequestError
from companion.families import anthropic, gemini, openai
from companion.families.provider import ProviderDialect

API_FORMATS = ("openai", "anthropic", "gemini")

DIALECTS: dict[str, ProviderDialect] = {
    "openai": openai.DIALECT,
    "anthropic": anthropic.DIALECT,
    "gemini": gemini.DIALECT,
}


def dialect_for(api_format: str) -> ProviderDialect:
    """The dialect of ``api_format``; 400 naming ``api_format`` when there is none."""
    dialect = DIALECTS.get(api_format)
    if dialect is not None:
        return dialect
    if api_format in API_FORMATS:
        raise BadRequestError(f"The API format '{api_format}' is not supported by this "
                              "version of the companion yet.", code="api_format_unsupported",
                              param="api_format")
    raise BadRequestError(f"Unknown API format '{api_format}'; use one of "
                          f"{', '.join(API_FORMATS)}.", code="invalid_api_format",
                          param="api_format")
