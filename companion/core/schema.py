"""``Schema``, the base of every pydantic model in the companion.

A pydantic model builds its validator and serializer when its class is made, unless told to
wait: the companion defines about 200 models (request bodies, replies, wire formats of every
API family, records), and building them all at import took a tenth of its start. Built on first
use instead (a validation, a dump, the OpenAPI document), most are never built by a companion
that serves one API family.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(defer_build=True)
