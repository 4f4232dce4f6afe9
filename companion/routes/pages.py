"""``?page=1&page_size=30`` (at most 100) and the ``{data, total, page, page_size}`` shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from companion.core.errors import BadRequestError

MAX_PAGE_SIZE = 100


def page_args(request: web.Request, default_size: int = 30) -> tuple[int, int]:
    try:
        page = int(request.query.get("page", "1"))
        size = int(request.query.get("page_size", str(default_size)))
    except ValueError:
        raise BadRequestError("page and page_size must be whole numbers.",
                              code="invalid_value", param="page") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequestError(f"page must be >= 1 and page_size between 1 and {MAX_PAGE_SIZE}.",
                              code="invalid_value", param="page_size")
    return page, size


def paged(items: Sequence[Any], total: int, page: int, size: int, **extra: Any
          ) -> dict[str, Any]:
    return {"data": list(items), "total": total, "page": page, "page_size": size, **extra}


def slice_page(items: Sequence[Any], page: int, size: int) -> list[Any]:
    return list(items[(page - 1) * size: page * size])
