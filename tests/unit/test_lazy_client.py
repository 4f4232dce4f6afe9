"""``LazyClient``: the shared httpx client is made on first call, once, and closed with it."""

from __future__ import annotations

import httpx

from companion.core.upstream import LazyClient, make_client


async def test_made_on_first_call_once_and_closed() -> None:
    made: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        made.append(make_client())
        return made[-1]

    lazy = LazyClient(make)
    assert made == []
    assert lazy() is lazy() is made[0]
    assert len(made) == 1
    await lazy.aclose()
    assert made[0].is_closed


async def test_closing_an_unused_one_makes_nothing() -> None:
    made: list[httpx.AsyncClient] = []
    lazy = LazyClient(lambda: made.append(make_client()) or made[-1])
    await lazy.aclose()
    assert made == []
