"""``?page=1&page_size=30`` (at most 100) and the ``{data, total, page, page_size}`` reply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from companion.core.errors import BadRequestError

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 30


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


def _positive(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise BadRequestError(f"{name} must be a positive whole number", param=name)
    return value


def page_of(request: web.Request) -> PageRequest:
    return PageRequest(_positive(request, "page", 1),
                       min(_positive(request, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))


def paginated(items: Sequence[dict[str, Any]], total: int, page: PageRequest) -> web.Response:
    return web.json_response({"data": list(items), "total": total, "page": page.page,
                              "page_size": page.page_size})
