"""Migration between every pair of backends: everything copied, proved, and switched."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import state
from state import StateManager
from state.errors import MigrationError, StoreMigratedError
from state.migrate import digest_of, migrate
from state.migrate_live import migrate_online
from state.open import connect
from tests.conftest import BACKENDS, BackendSpec
from tests.support import INITIAL, delta, feel, move

PAIRS = [(a, b) for a in BACKENDS for b in BACKENDS]


@pytest.fixture(params=PAIRS, ids=[f"{a.scheme}-to-{b.scheme}" for a, b in PAIRS])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """The URLs of a source and a destination store, in folders of their own."""
    source, destination = request.param
    urls = []
    for name, spec in (("src", source), ("dst", destination)):
        folder = tmp_path / name
        folder.mkdir()
        urls.append(BackendSpec.url(spec, folder))
    return urls[0], urls[1]


async def _written_story(url: str) -> None:
    async with state.open_state(url) as manager:
        await manager.initialize(INITIAL)
        await manager.apply(delta(1, move("Mara", "harbour", "ship")))
        await manager.apply(delta(2, feel("Teo", "wary", "bold")))
        await manager.apply(delta(2, feel("Teo", "wary", "sly"), attempt=2))  # supersedes
        await manager.put_meta("outline", {"title": "T"})


async def _migrate(source_url: str, destination_url: str, force: bool = False) -> None:
    source, destination = await connect(source_url), await connect(destination_url)
    try:
        await migrate(
            source.backend,
            destination.backend,
            source_url=source_url,
            destination_url=destination_url,
            force=force,
        )
    finally:
        await source.close()
        await destination.close()


async def _view(url: str) -> tuple[str, object, object, object]:
    async with state.open_state(url, create=False) as manager:
        history = [e.model_dump(mode="json") for e in await manager.history()]
        return (
            (await digest_of(manager.backend)).sha256,
            (await manager.snapshot()).model_dump(mode="json"),
            (await manager.snapshot(as_of_chapter=2)).model_dump(mode="json"),
            history,
        )


async def test_everything_is_copied_with_its_sequence_numbers(pair: tuple[str, str]) -> None:
    source, destination = pair
    await _written_story(source)
    before = await _view(source)
    await _migrate(source, destination)
    assert await _view(destination) == before
    seqs = [event["seq"] for event in before[3]]  # type: ignore[union-attr]
    assert seqs == [1, 2, 3]


async def test_the_source_is_a_read_only_backup(pair: tuple[str, str]) -> None:
    source, destination = pair
    await _written_story(source)
    await _migrate(source, destination)
    async with state.open_state(source, create=False) as backup:
        assert (await backup.snapshot()).characters["Mara"].location == "ship"
        for _ in range(2):  # refused every time, not "a transaction inside another"
            with pytest.raises(StoreMigratedError, match="migrated to"):
                await backup.put_meta("note", {"x": 1})
    with pytest.raises(MigrationError, match="already migrated"):
        await _migrate(source, destination, force=True)


async def test_a_destination_that_is_not_empty_is_refused(pair: tuple[str, str]) -> None:
    source, destination = pair
    await _written_story(source)
    async with state.open_state(destination) as other:
        await other.put_meta("other", {"mine": True})
    with pytest.raises(MigrationError, match="not empty"):
        await _migrate(source, destination)
    async with state.open_state(destination) as other:  # untouched
        assert await other.meta("other") == {"mine": True}
        assert await other.meta("outline") is None
    await _migrate(source, destination, force=True)
    assert (await _view(destination))[0] == (await _view(source))[0]
    async with state.open_state(destination) as copy:
        assert await copy.meta("other") is None


async def test_force_never_rewrites_a_different_history(pair: tuple[str, str]) -> None:
    source, destination = pair
    await _written_story(source)
    async with state.open_state(destination) as other:
        await other.initialize(INITIAL)
        await other.apply(delta(1, move("Mara", "harbour", "inn")))  # not the source's seq 1
    with pytest.raises(MigrationError, match="history differs"):
        await _migrate(source, destination, force=True)


async def test_online_migration_under_concurrent_writers_loses_nothing(
    pair: tuple[str, str],
) -> None:
    source, destination = pair
    writers, per_writer = 10, 30
    manager = await connect(source)
    try:
        async with manager.transaction() as tx:
            await tx.put("counter", 0)

        third = asyncio.Event()
        committed = 0

        async def writer(n: int) -> None:
            nonlocal committed
            for i in range(per_writer):
                async with manager.transaction() as tx:
                    await tx.put("counter", await tx.get("counter") + 1)
                    await tx.append_event({"kind": "tick", "writer": n, "i": i})
                committed += 1
                if committed == writers * per_writer // 3:
                    third.set()
                await asyncio.sleep(0)

        async def migrate_midway() -> None:
            await third.wait()
            await migrate_online(manager, destination)

        await asyncio.gather(*(writer(n) for n in range(writers)), migrate_midway())
        assert manager.backend.scheme == destination.split(":")[0]
    finally:
        await manager.close()
    async with state.open_state(destination, create=False) as copy:
        assert await _count(copy) == writers * per_writer
        ticks = [json.loads(e.body) async for e in copy.backend.events()]
        assert [t["seq"] for t in ticks] == list(range(1, writers * per_writer + 1))
    async with state.open_state(source, create=False) as backup:
        assert 0 < await _count(backup) < writers * per_writer  # the rest went to the copy


async def _count(manager: StateManager) -> int:
    raw = await manager.backend.get("counter")
    return 0 if raw is None else int(raw)


def _process_writer(url: str, started: Any, out: Any) -> None:
    """Increment the counter until the store moves, follow it, increment 20 more times there;
    report how many increments committed."""
    out.put(asyncio.run(_follow_and_write(url, started)))


async def _follow_and_write(url: str, started: Any) -> int:
    done, moved, after = 0, False, 0
    while after < 20:
        manager = await connect(url)
        try:
            while after < 20:
                async with manager.transaction() as tx:
                    await tx.put("counter", await tx.get("counter") + 1)
                done += 1
                after += moved
                if done == 5:
                    started.release()
        except StoreMigratedError as error:
            url, moved = error.moved_to, True  # that transaction did not commit: redo it there
        finally:
            await manager.close()
    return done


def test_writers_in_other_processes_follow_the_store_and_lose_nothing(
    pair: tuple[str, str],
) -> None:
    source, destination = pair
    asyncio.run(_seed_counter(source))
    ctx = mp.get_context("spawn")
    started, out = ctx.Semaphore(0), ctx.Queue()
    procs = [ctx.Process(target=_process_writer, args=(source, started, out)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for _ in procs:
        assert started.acquire(timeout=60)
    migrated = subprocess.run(
        [sys.executable, "-m", "orchestrator", "state", "migrate", source, destination],
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    committed = sum(out.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert asyncio.run(_final_count(destination)) == committed
    assert asyncio.run(_final_count(source)) < committed  # the backup holds the first part


async def _seed_counter(url: str) -> None:
    async with state.open_state(url) as manager, manager.transaction() as tx:
        await tx.put("counter", 0)


async def _final_count(url: str) -> int:
    async with state.open_state(url, create=False) as manager:
        return await _count(manager)
