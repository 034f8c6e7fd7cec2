"""What a Redis server promises about our data: persistence, eviction, the store's schema.

Durability on Redis is the operator's choice, made in the server's own
configuration; the ``durability`` URL option cannot change it. What each
setting gives (the README has the same table):

- AOF, ``appendfsync always``: each write is fsynced before Redis replies, so
  every acknowledged commit survives a restart and a crash of the machine
  (what ``durability=full`` and ``group`` ask for).
- AOF, ``appendfsync everysec``: written before the reply, fsynced once a
  second: survives a restart and a crash of Redis; a machine crash can lose
  the last second (what ``durability=normal`` asks for).
- RDB snapshots only: a crash loses everything since the last snapshot.
- no persistence: a restart loses the whole store.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from state.backend import Durability, HealthCheck
from state.schema import SCHEMA_VERSION

_SETTINGS = ("appendonly", "appendfsync", "save", "maxmemory", "maxmemory-policy")
# What each durability level needs from the server, weakest first.
_NEEDS: dict[str, str] = {"full": "fsync", "group": "fsync", "normal": "aof", "off": "none"}
_RANK = {"none": 0, "snapshot": 1, "aof": 2, "fsync": 3}


async def server_config(client: Redis) -> dict[str, str]:
    """The server's persistence and eviction settings, and its version.

    CONFIG may be disabled (managed services rename it); INFO then gives most of it.
    """
    config: dict[str, str] = {}
    try:
        found: dict[Any, Any] = await client.config_get(*_SETTINGS)
        config.update({str(k): str(v) for k, v in found.items()})
    except ResponseError:
        info = await client.info("persistence")
        memory = await client.info("memory")
        config["appendonly"] = "yes" if info.get("aof_enabled") else "no"
        config["maxmemory"] = str(memory.get("maxmemory", 0))
        config["maxmemory-policy"] = str(memory.get("maxmemory_policy", "unknown"))
    server = await client.info("server")
    config["redis_version"] = str(server.get("redis_version", "unknown"))
    return {str(k): str(v) for k, v in config.items()}


def persistence(config: dict[str, str]) -> str:
    """``fsync``, ``aof``, ``snapshot`` or ``none``: what survives what."""
    if config.get("appendonly") == "yes":
        return "fsync" if config.get("appendfsync") == "always" else "aof"
    save = config.get("save")
    if save is None:
        return "aof" if config.get("appendonly") == "yes" else "snapshot?"
    return "snapshot" if save.strip() else "none"


def describe_persistence(config: dict[str, str]) -> str:
    kind = persistence(config)
    fsync = config.get("appendfsync", "?")
    if kind == "fsync":
        return (
            "AOF with appendfsync always: every acknowledged commit survives a restart and "
            "a machine crash"
        )
    if kind == "aof":
        return (
            f"AOF with appendfsync {fsync}: survives a restart and a crash of Redis; a machine "
            "crash can lose the last second or more"
        )
    if kind == "snapshot":
        return (
            f"RDB snapshots only (save {config.get('save')!r}): a crash or kill loses every "
            "commit since the last snapshot"
        )
    if kind == "snapshot?":
        return "no AOF; RDB snapshot settings unknown (CONFIG is disabled)"
    return "no persistence (no AOF, no RDB saves): a restart loses the whole store"


def durability_gap(config: dict[str, str], durability: Durability) -> str | None:
    """Why the server cannot give what ``durability`` asks, or None if it can."""
    have = _RANK.get(persistence(config), 1)
    if have >= _RANK[_NEEDS[durability]]:
        return None
    want = {
        "fsync": "appendonly yes with appendfsync always",
        "aof": "appendonly yes",
    }[_NEEDS[durability]]
    return (
        f"durability={durability} needs the server to run with {want}; "
        f"it has {describe_persistence(config)}"
    )


def eviction_check(config: dict[str, str]) -> HealthCheck:
    policy = config.get("maxmemory-policy", "unknown")
    maxmemory = int(config.get("maxmemory", "0") or 0)
    limit = f"{maxmemory:,} bytes" if maxmemory else "no limit"
    ok = policy == "noeviction" or maxmemory == 0
    detail = f"maxmemory-policy {policy}, maxmemory {limit}"
    if not ok:
        detail += "; Redis may evict the store's keys when full: set maxmemory-policy noeviction"
    return HealthCheck(
        "redis.eviction",
        ok,
        detail,
        level="warning",
        data={"policy": policy, "maxmemory": maxmemory},
    )


async def store_checks(client: Redis, prefix: str) -> list[HealthCheck]:
    meta: dict[Any, Any] = await client.hgetall(prefix + "meta")
    schema = meta.get("schema")
    docs = await client.hlen(prefix + "docs")
    events = await client.xlen(prefix + "events")
    return [
        HealthCheck(
            "redis.schema",
            schema == str(SCHEMA_VERSION),
            f"schema version {schema} (current {SCHEMA_VERSION})"
            if schema is not None
            else "no state store in this namespace",
        ),
        HealthCheck(
            "redis.size",
            True,
            f"{docs} documents, {events} events, {meta.get('version', 0)} commits",
            data={"documents": docs, "events": events},
        ),
    ]


async def health_checks(
    client: Redis, prefix: str, location: str, durability: Durability
) -> list[HealthCheck]:
    """The checks ``orchestrator doctor`` prints for a Redis store."""
    try:
        config = await server_config(client)
        store = await store_checks(client, prefix)
    except RedisError as exc:
        return [HealthCheck("redis.server", False, f"{location} is not reachable: {exc}")]
    gap = durability_gap(config, durability)
    kind = persistence(config)
    return [
        HealthCheck(
            "redis.server",
            True,
            f"{location} reachable, Redis {config['redis_version']}",
            data={"version": config["redis_version"]},
        ),
        HealthCheck(
            "redis.persistence",
            kind not in ("none", "snapshot?"),
            describe_persistence(config),
            level="warning",
            data={k: config.get(k) for k in ("appendonly", "appendfsync", "save")},
        ),
        HealthCheck(
            "redis.durability",
            gap is None,
            gap or f"durability={durability} is met: {describe_persistence(config)}",
            level="warning",
        ),
        eviction_check(config),
        *store,
    ]
