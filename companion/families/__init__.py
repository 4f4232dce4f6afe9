"""The API families the companion speaks, one module each, registered in ``ApiFamily``.

Each module declares its family once (``FAMILY = Family(...)``: path prefixes, where its
clients put their key, its error JSON, its stream framing; see ``family.py``) and holds its
translation to and from the OpenAI-shaped calls our model servers answer (``translation.py``).
``family_for`` picks a request's family by the longest matching prefix; a path no family
claims is Bodhi's own API. Nothing here imports the web framework: the middleware and the
relay (``routes/relay.py``) read the declarations.

Adding a family is one module and one line in ``ApiFamily``::

    # companion/families/mistral.py
    FAMILY = Family("mistral", prefixes=("/mistral/",), error_body=error_body, stream=SSE)

    # below
    MISTRAL = mistral.FAMILY
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from companion.core.errors import BodhiError
from companion.families import anthropic, bodhi, gemini, oauth, ollama, openai
from companion.families.family import Family


class ApiFamily(Enum):
    _value_: Family

    BODHI = bodhi.FAMILY
    OPENAI = openai.FAMILY
    OLLAMA = ollama.FAMILY
    ANTHROPIC = anthropic.FAMILY
    GEMINI = gemini.FAMILY
    OAUTH = oauth.FAMILY


# Longest prefix first, so ``/v1/messages`` (Anthropic) wins over ``/v1/`` (OpenAI).
_BY_PREFIX = sorted(((prefix, family) for family in ApiFamily for prefix in family.value.prefixes),
                    key=lambda entry: -len(entry[0]))


def family_for(path: str) -> ApiFamily:
    for prefix, family in _BY_PREFIX:
        if path.startswith(prefix):
            return family
    return ApiFamily.BODHI


def error_body(family: ApiFamily, error: BodhiError) -> dict[str, Any]:
    return family.value.error_body(error)


__all__ = ["ApiFamily", "Family", "error_body", "family_for"]
