"""companion/routes/paging.py: one pagination behaviour for every list route."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from companion.middleware.errors import error_middleware
from companion.routes.paging import MAX_PAGE_SIZE, page_of, paginated

Client = TestClient[web.Request, web.Application]
ITEMS = [{"n": n} for n in range(250)]


async def handler(request: web.Request) -> web.Response:
    page = page_of(request)
    return paginated(page.slice(ITEMS), len(ITEMS), page)


@pytest.fixture
async def client(aiohttp_client: Any) -> Client:
    app = web.Application(middlewares=[error_middleware()])
    app.router.add_get("/bodhi/v1/things", handler)
    result: Client = await aiohttp_client(app)
    return result


async def test_defaults_and_shape(client: Client) -> None:
    body = await (await client.get("/bodhi/v1/things")).json()

    assert (body["total"], body["page"], body["page_size"]) == (250, 1, 30)
    assert [item["n"] for item in body["data"]] == list(range(30))


async def test_a_later_page(client: Client) -> None:
    body = await (await client.get("/bodhi/v1/things?page=3&page_size=100")).json()

    assert [item["n"] for item in body["data"]] == list(range(200, 250))


async def test_oversized_page_size_is_served_at_the_maximum(client: Client) -> None:
    body = await (await client.get("/bodhi/v1/things?page_size=500")).json()

    assert body["page_size"] == MAX_PAGE_SIZE and len(body["data"]) == MAX_PAGE_SIZE


async def test_a_page_past_the_end_is_empty(client: Client) -> None:
    body = await (await client.get("/bodhi/v1/things?page=20")).json()

    assert (body["data"], body["total"]) == ([], 250)


@pytest.mark.parametrize(("query", "param"), [("page=0", "page"), ("page=x", "page"),
                                              ("page_size=0", "page_size"),
                                              ("page_size=-3", "page_size"),
                                              # past the database's offset range: not a 500
                                              ("page=14084390999711590933707358208", "page"),
                                              ("page=1000001", "page")])
async def test_bad_numbers_are_400_naming_the_parameter(client: Client, query: str,
                                                         param: str) -> None:
    response = await client.get(f"/bodhi/v1/things?{query}")

    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["code"], error["param"]) == ("invalid_value", param)
