"""Which ``ProviderDialect`` speaks each API format a record may name.

Adding a format is its dialect (``families/<family>``) and one line here.
"""

from __future__ import annotations

from companion.core.errors import BadRequestError
from companion.families import anthropic, gemini, openai
from companion.families.provider import ProviderDialect

DIALECTS: dict[str, ProviderDialect] = {
    "openai": openai.DIALECT,
    "anthropic": anthropic.DIALECT,
    "gemini": gemini.DIALECT,
}


def dialect_for(api_format: str) -> ProviderDialect:
    """The dialect of ``api_format``; 400 naming ``api_format`` when there is none."""
    dialect = DIALECTS.get(api_format)
    if dialect is None:
        raise BadRequestError(f"Unknown API format '{api_format}'; use one of "
                              f"{', '.join(DIALECTS)}.", code="invalid_api_format",
                              param="api_format")
    return dialect
