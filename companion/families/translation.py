"""``ReplyTranslation``: how a family's client gets a model server's reply.

Our model servers answer OpenAI-shaped calls. A family whose clients speak that (OpenAI)
passes replies through untouched; another (Ollama) rewrites each reply, whole or streamed,
into its own objects, and turns a model server's refusal into our error, which the error
middleware then renders in the family's format. The relay in ``routes/relay.py`` drives a
translation; it never looks inside a reply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from companion.core.errors import BadRequestError, BodhiError


@dataclass(frozen=True)
class WholeReply:
    """A reply that is not streamed, read to the end."""

    status: int
    content_type: str
    body: bytes


class ReplyTranslation(Protocol):
    # True: a model server's refusal (any status but 200) reaches the client as it is;
    # False: it becomes ``upstream_error`` before anything is sent.
    relays_refusals: ClassVar[bool]

    def reply(self, whole: WholeReply) -> WholeReply:
        """A reply that is not streamed, as the client gets it."""
        ...

    def frames(self, chunk: bytes) -> Sequence[bytes]:
        """What to write for a chunk of the model server's stream (chunks split anywhere)."""
        ...

    def closing_frames(self) -> Sequence[bytes]:
        """What to write once the model server's stream has ended."""
        ...


def upstream_error(status: int, raw: bytes) -> BodhiError:
    """A model server's refusal, with its own message when it gave one."""
    try:
        detail = json.loads(raw)["error"]
        message = detail["message"] if isinstance(detail, dict) else str(detail)
    except (ValueError, KeyError, TypeError):
        message = raw.decode("utf-8", errors="replace")[:500] or f"HTTP {status}"
    error = BadRequestError(message) if status < 500 else BodhiError(message)
    error.status = status
    return error
