"""Google's schema dialect (an OpenAPI 3.0 subset: ``"type": "OBJECT"``, ``nullable``,
``propertyOrdering``) as the JSON Schema OpenAI-shaped servers read."""

from __future__ import annotations

from typing import Any

# Keys that hold one sub-schema, a list of them, or a map of them.
_ONE = ("items", "not", "additionalProperties")
_MANY = ("anyOf", "oneOf", "allOf", "any_of", "prefixItems")
_MAP = ("properties", "$defs", "defs")
_DROPPED = ("propertyOrdering", "property_ordering", "nullable", "example")
_RENAMED = {"any_of": "anyOf", "max_items": "maxItems", "min_items": "minItems",
            "max_length": "maxLength", "min_length": "minLength", "max_properties":
            "maxProperties", "min_properties": "minProperties", "defs": "$defs"}


def to_json_schema(schema: Any) -> Any:
    """``schema`` with lower-case types, ``nullable`` as a ``null`` type, and Google's
    ordering hints dropped; anything else is kept as it is."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        name = str(_RENAMED.get(key, key))
        if key == "type" and isinstance(value, str):
            out[name] = value.lower()
        elif key in _ONE:
            out[name] = to_json_schema(value)
        elif key in _MANY and isinstance(value, list):
            out[name] = [to_json_schema(v) for v in value]
        elif key in _MAP and isinstance(value, dict):
            out[name] = {k: to_json_schema(v) for k, v in value.items()}
        else:
            out[name] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out
