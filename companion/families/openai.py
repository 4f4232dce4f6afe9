"""OpenAI's API under ``/v1``: our model servers speak it, so replies pass through untouched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from companion.core.errors import BodhiError
from companion.families.family import SSE, Family
from companion.families.openai_upstream import DIALECT
from companion.families.translation import WholeReply


def error_body(error: BodhiError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": error.type,
                      "param": error.param, "code": error.code}}


FAMILY = Family("openai", prefixes=("/v1/",), error_body=error_body, stream=SSE)


class Passthrough:
    """The model server's reply, status and refusals included, exactly as it came."""

    relays_refusals: ClassVar[bool] = True

    def reply(self, whole: WholeReply) -> WholeReply:
        return whole

    def frames(self, chunk: bytes) -> Sequence[bytes]:
        return (chunk,)

    def closing_frames(self) -> Sequence[bytes]:
        return ()


PASSTHROUGH = Passthrough()

__all__ = ["DIALECT", "FAMILY", "PASSTHROUGH", "Passthrough", "error_body"]
