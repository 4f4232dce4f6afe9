"""Bodhi's own API (``/bodhi/...``, and every path no other family claims): the error envelope."""

from __future__ import annotations

from typing import Any

from companion.core.errors import BodhiError
from companion.families.family import Family


def error_body(error: BodhiError) -> dict[str, Any]:
    body: dict[str, Any] = {**error.details, "message": error.message, "type": error.type,
                            "code": error.code}
    if error.param is not None:
        body["param"] = error.param
    return {"error": body}


FAMILY = Family("bodhi", prefixes=("/bodhi/",), error_body=error_body)
