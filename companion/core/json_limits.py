"""Parsing untrusted JSON strictly: bounded nesting, finite numbers, no duplicate keys.

Every JSON document from outside (request bodies, MCP messages, WebSocket messages,
native-messaging frames) is parsed here, and anything below is refused as malformed input
(a ``ValueError``, like bad JSON), so it never reaches a model server, a provider or an MCP
server that would read it differently:

- nesting deeper than ``MAX_DEPTH``: Python's decoder recurses once per level, so a body of
  30,000 ``[`` raises ``RecursionError`` (not ``ValueError``), and an object a few levels short
  of the limit parses but fails later wherever it is walked or encoded again;
- ``NaN``, ``Infinity`` and ``-Infinity``, which Python accepts by default although they are
  not JSON, and numbers too large for a double (``1e999999`` parses as ``inf``): encoded again,
  both become ``NaN``/``Infinity``, which llama.cpp and every other strict parser refuse;
- integers outside 64 bits (signed or unsigned), which C++ and JavaScript parsers round or
  refuse (integers of more than 4,300 digits are already refused by Python itself);
- an object with the same key twice: parsers disagree on which one wins (Python keeps the
  last, others the first), so a check done here could be bypassed upstream.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 128
MIN_INT = -(2**63)
MAX_INT = 2**64 - 1


class JsonTooDeep(ValueError):
    """A document nested deeper than ``MAX_DEPTH`` (a ``ValueError``, like bad JSON)."""

    def __init__(self) -> None:
        super().__init__(f"JSON is nested deeper than {MAX_DEPTH} levels")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is too large")
    return value


def _int64(text: str) -> int:
    value = int(text)
    if not MIN_INT <= value <= MAX_INT:
        raise ValueError(f"integer {text[:20]}... does not fit in 64 bits")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key[:40]!r} in an object")
            seen.add(key)
    return value


_DECODER = json.JSONDecoder(parse_float=_finite, parse_int=_int64, parse_constant=_no_constant,
                            object_pairs_hook=_unique)


def loads(raw: str | bytes) -> Any:
    """``json.loads`` that raises ``ValueError`` for bad JSON and for each case above."""
    text = raw.decode(json.detect_encoding(raw), "strict") if isinstance(raw, bytes) else raw
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise JsonTooDeep() from None
    # Counting brackets (in C) is far cheaper than walking the document, and a document
    # with no more opening brackets than the limit cannot be nested deeper.
    if text.count("[") + text.count("{") > MAX_DEPTH and not _within_depth(value):
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
