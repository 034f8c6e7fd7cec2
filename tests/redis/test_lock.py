"""The write lock in Redis: waiters that wait long, give up, or time out leave no trace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis

import state
from state import LockTimeoutError, StateManager
from state.backends.redis_url import RedisAddress
from tests.redis.conftest import NO_PERSISTENCE, RedisServer

Server = Callable[..., RedisServer]


def lock_keys(server: RedisServer, namespace: str = "t") -> dict[str, object]:
    prefix = RedisAddress(host="127.0.0.1", namespace=namespace).key_prefix
    client = redis.Redis(port=server.port, decode_responses=True)
    try:
        return {
            "holder": client.get(prefix + "lock"),
            "queue": client.lrange(prefix + "queue", 0, -1),
            "wake": sorted(client.scan_iter(match=prefix + "wake:*")),
        }
    finally:
        client.close()


async def hold(manager: StateManager, seconds: float, entered: asyncio.Event) -> None:
    async with manager.transaction() as tx:
        entered.set()
        await tx.put("k/holder", 1)
        await asyncio.sleep(seconds)


async def test_waiters_that_wait_past_a_poll_are_served_once_each(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE)
    url = server.url()
    async with (
        state.open_state(url) as holder,
        state.open_state(url) as one,
        state.open_state(url) as two,
    ):
        entered = asyncio.Event()
        held = asyncio.create_task(hold(holder, 1.5, entered))  # longer than a waiter's poll
        await entered.wait()

        async def increment(manager: StateManager) -> None:
            async with manager.transaction() as tx:
                await tx.put("k/n", await tx.get("k/n", 0) + 1)

        await asyncio.gather(held, increment(one), increment(two))
        async with holder.transaction() as tx:
            assert await tx.get("k/n") == 2
    assert lock_keys(server) == {"holder": None, "queue": [], "wake": []}


async def test_a_writer_that_times_out_leaves_the_queue(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE)
    async with (
        state.open_state(server.url()) as holder,
        state.open_state(server.url(lock_timeout="0.3")) as impatient,
    ):
        entered = asyncio.Event()
        held = asyncio.create_task(hold(holder, 0.8, entered))
        await entered.wait()
        with pytest.raises(LockTimeoutError) as caught:
            async with impatient.transaction() as tx:
                await tx.put("k/never", 1)
        assert "namespace=t" in str(caught.value)
        assert lock_keys(server)["queue"] == []
        await held
        async with impatient.transaction() as tx:  # and it can write once the lock is free
            assert await tx.get("k/never") is None
            await tx.put("k/later", 1)
    assert lock_keys(server) == {"holder": None, "queue": [], "wake": []}
