"""``open_state(url)``: the one entry point to a state store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from state.backend import Backend
from state.backends.json_file import JSONFileBackend
from state.backends.sqlite import SQLiteBackend
from state.errors import StateURLError
from state.manager import StateManager
from state.migrate import MigrationReport, OnVerified, migrate
from state.url import StateURL, parse_state_url


def make_backend(url: StateURL, create: bool = True) -> Backend:
    """The backend a parsed URL names (not yet opened); ``create=False`` refuses a missing store."""
    if url.redis is not None:
        # Imported here: redis-py takes longer to import than the rest of the store, and
        # only a redis:// URL needs it.
        from state.backends.redis import RedisBackend

        return RedisBackend(
            url.redis,
            durability=url.durability,
            lock_timeout_s=url.lock_timeout_s,
            lease_s=url.lease_s,
            reconnect_s=url.reconnect_s,
            create=create,
        )
    options = {
        "create": create,
        "durability": url.durability,
        "lock_timeout_s": url.lock_timeout_s,
        "allow_network_fs": url.allow_network_fs,
    }
    if url.scheme == "json":
        return JSONFileBackend(url.path, **options)  # type: ignore[arg-type]
    return SQLiteBackend(url.path, **options)  # type: ignore[arg-type]


async def connect(url: str, base_dir: Path | None = None, create: bool = True) -> StateManager:
    """Open a store and return its manager; the caller must ``await manager.close()``."""
    parsed = parse_state_url(url, base_dir)
    backend = make_backend(parsed, create)
    await backend.open()
    return StateManager(backend, str(parsed))


@asynccontextmanager
async def open_state(
    url: str, base_dir: Path | None = None, create: bool = True
) -> AsyncIterator[StateManager]:
    """``async with open_state("sqlite:///runs/x/state.db") as manager: ...``

    With ``create=False`` a path with no store is an error, not a new empty store.
    """
    manager = await connect(url, base_dir, create)
    try:
        yield manager
    finally:
        await manager.close()


async def migrate_stores(
    source: StateURL,
    destination: StateURL,
    *,
    force: bool = False,
    on_verified: OnVerified | None = None,
) -> MigrationReport:
    """Open both stores, copy ``source`` into ``destination`` and verify (see ``migrate``)."""
    src = make_backend(source, create=False)
    dst = make_backend(destination)
    await src.open()
    try:
        await dst.open()
        try:
            return await migrate(
                src,
                dst,
                source_url=source.full(),
                destination_url=destination.full(),
                force=force,
                on_verified=on_verified,
            )
        finally:
            await dst.close()
    finally:
        await src.close()


async def drop_store(url: str) -> None:
    """Delete a Redis store's namespace from its server (a benchmark's scratch store)."""
    from state.backends.redis import RedisBackend

    backend = make_backend(parse_state_url(url))
    if not isinstance(backend, RedisBackend):
        raise StateURLError(url, "only a Redis store can be dropped; delete the file instead")
    try:
        await backend.drop()
    finally:
        await backend.close()
