"""Parsing untrusted JSON with a bound on nesting.

Python's decoder recurses once per level: a body of 30,000 ``[`` raises ``RecursionError``
(not ``ValueError``), and an object a few levels short of the limit parses but fails later
wherever it is walked or encoded again. So every JSON document from outside (request bodies,
WebSocket messages, native-messaging frames) is parsed here, and anything nested deeper than
``MAX_DEPTH`` is refused as malformed input.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 128


class JsonTooDeep(ValueError):
    """A document nested deeper than ``MAX_DEPTH`` (a ``ValueError``, like bad JSON)."""

    def __init__(self) -> None:
        super().__init__(f"JSON is nested deeper than {MAX_DEPTH} levels")


def loads(raw: str | bytes) -> Any:
    """``json.loads`` that raises ``ValueError`` for bad or too deeply nested JSON."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonTooDeep() from None
    if not _within_depth(value):
        raise JsonTooDeep()
    return value


def _within_depth(value: Any) -> bool:
    # Iterative, so checking depth cannot itself recurse too deeply.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        children = item.values() if isinstance(item, dict) else item
        if depth > MAX_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return True
