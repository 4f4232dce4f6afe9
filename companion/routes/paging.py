"""Pagination for every list route: ``?page=1&page_size=30`` and the
``{data, total, page, page_size}`` reply (API.md, "Lists").

``page`` and ``page_size`` must be positive whole numbers, ``page`` at most ``MAX_PAGE`` (else
400 naming the parameter: a larger one would overflow the database's offset); a ``page_size``
over ``MAX_PAGE_SIZE`` is served as ``MAX_PAGE_SIZE``, and the reply says so in its
``page_size``. A page past the end is an empty ``data`` with the true ``total``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from companion.core.errors import BadRequestError

MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000
DEFAULT_PAGE_SIZE = 30
T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int

    @property
    def limit(self) -> int:
        return self.page_size

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def slice(self, items: Sequence[T]) -> list[T]:
        """This page of a list held in memory."""
        return list(items[self.offset: self.offset + self.page_size])


def _positive(request: web.Request, name: str, default: int, most: int | None = None) -> int:
    raw = request.query.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1 or (most is not None and value > most):
        at_most = f" at most {most}" if most is not None else ""
        raise BadRequestError(f"{name} must be a positive whole number{at_most}",
                              code="invalid_value", param=name)
    return value


def page_of(request: web.Request) -> PageRequest:
    return PageRequest(_positive(request, "page", 1, MAX_PAGE),
                       min(_positive(request, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))


def paginated(items: Sequence[Any], total: int, page: PageRequest, **extra: Any
              ) -> web.Response:
    return web.json_response({"data": list(items), "total": total, "page": page.page,
                              "page_size": page.page_size, **extra})
