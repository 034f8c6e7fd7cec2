"""What a writer learns when the lock is handed to it: every document changed since."""

from __future__ import annotations

from collections.abc import Callable

import state
from state.backends.redis_scripts import MAX_SHIPPED_KEYS
from tests.redis.conftest import NO_PERSISTENCE, RedisServer

Server = Callable[..., RedisServer]


async def test_changes_reach_the_next_writer_byte_exact(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE)
    url = server.url()
    docs = {
        "k/plain": "text",
        "k/é accentué": {"line\nbreak": 'naïve "quoted" ü'},
        "k/章节": "第一章:雨夜 🌧",
        "k/empty": "",
    }
    async with state.open_state(url) as one, state.open_state(url) as two:
        async with two.transaction() as tx:  # two's cache now holds the empty store
            await tx.put("k/doomed", 1)
        async with one.transaction() as tx:
            for key, value in docs.items():
                await tx.put(key, value)
            await tx.delete("k/doomed")
        async with two.transaction() as tx:
            assert await tx.get("k/doomed") is None
            for key, value in docs.items():
                assert await tx.get(key) == value
            assert await tx.scan("k/") == docs


async def test_too_many_changes_make_the_next_writer_read_afresh(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE)
    url = server.url()
    async with state.open_state(url) as one, state.open_state(url) as two:
        async with two.transaction() as tx:
            await tx.put("k/0", "old")
        async with one.transaction() as tx:
            for n in range(MAX_SHIPPED_KEYS + 5):
                await tx.put(f"k/{n}", n)
        async with two.transaction() as tx:
            assert await tx.get("k/0") == 0
            assert await tx.get(f"k/{MAX_SHIPPED_KEYS + 4}") == MAX_SHIPPED_KEYS + 4
