"""What ``orchestrator doctor`` learns from a Redis store: server, persistence, eviction, schema."""

from __future__ import annotations

from collections.abc import Callable

import state
from state.backend import HealthCheck
from tests.redis.conftest import AOF_ALWAYS, AOF_EVERYSEC, NO_PERSISTENCE, RDB_ONLY, RedisServer

Server = Callable[..., RedisServer]


async def checks(url: str) -> dict[str, HealthCheck]:
    async with state.open_state(url) as manager:
        await manager.put_meta("outline", {"chapters": 3})
        return {check.name: check for check in await manager.backend.health()}


async def test_a_server_without_persistence_is_a_warning(redis_server: Server) -> None:
    server = redis_server(*NO_PERSISTENCE)
    found = await checks(server.url())
    assert found["redis.server"].ok
    assert found["redis.server"].data["version"].count(".") == 2
    persistence = found["redis.persistence"]
    assert not persistence.ok
    assert persistence.level == "warning"
    assert "a restart loses the whole store" in persistence.detail
    assert not found["redis.durability"].ok
    assert found["redis.schema"].ok
    assert found["redis.eviction"].ok
    assert found["redis.size"].data["documents"] == 1


async def test_aof_always_meets_full_durability(redis_server: Server) -> None:
    server = redis_server(*AOF_ALWAYS)
    found = await checks(server.url(durability="full"))
    assert found["redis.persistence"].ok
    assert found["redis.durability"].ok
    assert "appendfsync always" in found["redis.persistence"].detail


async def test_aof_everysec_meets_normal_but_not_full(redis_server: Server) -> None:
    server = redis_server(*AOF_EVERYSEC)
    assert (await checks(server.url(durability="normal")))["redis.durability"].ok
    full = (await checks(server.url(durability="full")))["redis.durability"]
    assert not full.ok
    assert "appendfsync always" in full.detail


async def test_rdb_snapshots_survive_a_restart_but_lose_recent_commits(
    redis_server: Server,
) -> None:
    server = redis_server(*RDB_ONLY)
    found = await checks(server.url(durability="off"))
    assert found["redis.persistence"].ok
    assert "loses every commit since the last snapshot" in found["redis.persistence"].detail
    assert found["redis.durability"].ok  # durability=off asks for nothing


async def test_an_evicting_server_is_a_warning(redis_server: Server) -> None:
    server = redis_server(
        *NO_PERSISTENCE, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"
    )
    eviction = (await checks(server.url()))["redis.eviction"]
    assert not eviction.ok
    assert eviction.level == "warning"
    assert "allkeys-lru" in eviction.detail
    assert "noeviction" in eviction.detail
