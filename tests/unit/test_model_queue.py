"""``ModelQueue``: arrival order, the bound, the wait limit, and waiters that leave."""

from __future__ import annotations

import asyncio

import pytest

from companion.core.errors import ServiceUnavailableError, TooManyRequestsError
from companion.inference.model_queue import ModelQueue


def _queue(running: int = 1, waiting: int = 10) -> tuple[ModelQueue, list[int]]:
    seen: list[int] = []
    queue = ModelQueue("m", lambda: running, lambda: waiting,
                       on_change=lambda q: seen.append(q.waiting))
    return queue, seen


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_turns_go_in_arrival_order_and_newcomers_do_not_jump_the_queue() -> None:
    queue, _ = _queue(running=1)
    order: list[int] = []
    release = asyncio.Event()

    async def request(n: int) -> None:
        async with queue.turn(10):
            order.append(n)
            if n == 0:
                await release.wait()

    tasks = [asyncio.create_task(request(n)) for n in range(5)]
    await _settle()
    assert (queue.running, queue.waiting) == (1, 4)
    release.set()
    await asyncio.sleep(0)
    late = asyncio.create_task(request(99))  # arrives while turns are being handed on
    await asyncio.gather(*tasks, late)
    assert order == [0, 1, 2, 3, 4, 99]
    assert (queue.running, queue.waiting) == (0, 0)


async def test_a_full_queue_refuses_with_retry_after() -> None:
    queue, _ = _queue(running=1, waiting=1)
    hold = asyncio.Event()

    async def request() -> None:
        async with queue.turn(10):
            await hold.wait()

    tasks = [asyncio.create_task(request()) for _ in range(2)]
    await _settle()
    with pytest.raises(TooManyRequestsError) as refused:
        async with queue.turn(10):
            pass
    assert refused.value.code == "model_busy" and refused.value.retry_after == 1
    hold.set()
    await asyncio.gather(*tasks)


async def test_a_waiter_gives_up_after_its_wait_and_leaves_the_queue() -> None:
    queue, _ = _queue(running=1)
    hold = asyncio.Event()
    holder = asyncio.create_task(_hold(queue, hold))
    await _settle()
    with pytest.raises(ServiceUnavailableError) as late:
        async with queue.turn(0.05):
            pass
    assert late.value.code == "model_queue_timeout" and late.value.retry_after
    assert queue.waiting == 0
    hold.set()
    await holder
    assert queue.running == 0


async def test_a_cancelled_waiter_leaves_the_queue_and_never_gets_a_turn() -> None:
    queue, seen = _queue(running=1)
    hold = asyncio.Event()
    holder = asyncio.create_task(_hold(queue, hold))
    await _settle()
    ran: list[str] = []

    async def waiter(name: str) -> None:
        async with queue.turn(10):
            ran.append(name)

    gone, stays = asyncio.create_task(waiter("gone")), asyncio.create_task(waiter("stays"))
    await _settle()
    assert queue.waiting == 2 and queue.oldest_wait() > 0
    gone.cancel()
    await _settle()
    assert queue.waiting == 1 and seen[-1] == 1
    hold.set()
    await asyncio.gather(holder, stays)
    assert ran == ["stays"] and queue.running == 0


async def test_a_turn_handed_to_a_waiter_that_just_left_goes_to_the_next() -> None:
    queue, _ = _queue(running=1)
    hold = asyncio.Event()
    holder = asyncio.create_task(_hold(queue, hold))
    await _settle()
    ran: list[str] = []

    async def waiter(name: str) -> None:
        async with queue.turn(10):
            ran.append(name)

    first, second = asyncio.create_task(waiter("first")), asyncio.create_task(waiter("second"))
    await _settle()
    hold.set()
    await asyncio.sleep(0)      # the holder ends: its turn is handed to "first"...
    first.cancel()              # ...which is cancelled before it can run
    await asyncio.gather(holder, second)
    assert ran in (["second"], ["first", "second"])
    assert (queue.running, queue.waiting) == (0, 0)


async def test_a_raised_limit_lets_waiters_in_and_waits_are_averaged() -> None:
    limit = [1]
    queue = ModelQueue("m", lambda: limit[0], lambda: 10)
    hold = asyncio.Event()
    holders = [asyncio.create_task(_hold(queue, hold)) for _ in range(3)]
    await _settle()
    assert (queue.running, queue.waiting) == (1, 2)
    limit[0] = 3
    extra = asyncio.create_task(_hold(queue, hold))  # an arrival lets the raised limit apply
    await _settle()
    assert (queue.running, queue.waiting) == (3, 1)
    hold.set()
    await asyncio.gather(*holders, extra)
    assert queue.average_wait() > 0


async def _hold(queue: ModelQueue, hold: asyncio.Event) -> None:
    async with queue.turn(10):
        await hold.wait()
