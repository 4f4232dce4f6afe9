"""What each route tells the API document, declared on the handler beside its access rule.

    @documented("List your API tokens", response=Page[TokenOut])
    @documented("Create a model alias", body=AliasBody, response=AliasOut, status=201,
                errors=(409,))
    @documented("Chat completion", body=ChatCompletionRequest, stream="text/event-stream")

``body`` is the pydantic model the handler validates its JSON with (``routes/bodies.py``), so
the document and the validation are one declaration; ``response`` the model that shapes the
success reply (``None``: no schema for it, e.g. a relayed model reply); ``media`` its content
type (``None`` for a reply without a body, e.g. 204); ``stream`` a second, streamed content
type. The generator (``routes/openapi.py``) adds the error statuses the access rule, a body
and path parameters imply; ``errors`` names the others a route can answer (409, 429, 502...).

The generator documents only declared routes, and a test keeps the document and the route
table equal: a route added without ``@documented`` fails it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

_ATTR = "__bodhi_doc__"

H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


# The paging parameters of every list route (``routes/paging.py``).
PAGING = (QueryParam("page", "Page number, from 1 (at most 1000000).",
                     {"type": "integer", "minimum": 1}),
          QueryParam("page_size", "Items per page (at most 100).",
                     {"type": "integer", "minimum": 1}))


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    body_required: bool = True
    response: type[BaseModel] | Mapping[str, Any] | None = None
    status: int = 200
    also: tuple[int, ...] = ()      # other success statuses with the same reply
    media: str | None = "application/json"
    stream: str | None = None
    errors: tuple[int, ...] = ()
    error_pages: tuple[int, ...] = ()   # statuses answered with an HTML page, not error JSON
    query: tuple[QueryParam, ...] = ()
    description: str | None = None


def documented(summary: str, **fields: Any) -> Callable[[H], H]:
    """Declare a handler's documentation; ``fields`` are ``RouteDoc``'s (a wrong name is a
    TypeError at import)."""
    doc = RouteDoc(summary, **fields)

    def mark(handler: H) -> H:
        setattr(handler, _ATTR, doc)
        return handler

    return mark


def doc_for(handler: object) -> RouteDoc | None:
    return getattr(handler, _ATTR, None)
