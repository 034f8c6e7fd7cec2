"""Concurrent read-modify-write: no lost update, in one process or across many."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from pathlib import Path

import pytest

import state
from state import StateManager
from tests.support import INITIAL, StoreURLFactory, delta, fold_deltas, move, without_version

TASKS = 20
INCREMENTS = 50
KEYS = 3


async def increment(manager: StateManager, key: str) -> None:
    async with manager.transaction() as tx:
        value = await tx.get(key, 0)
        await asyncio.sleep(0)  # let every other writer try to get in between
        await tx.put(key, value + 1)


async def counters(manager: StateManager) -> dict[str, int]:
    async with manager.transaction() as tx:
        found: dict[str, int] = await tx.scan("counter/")
        return found


def key_for(worker: int, i: int) -> str:
    return f"counter/{(worker + i) % KEYS}"


async def test_tasks_lose_no_increment(manager: StateManager) -> None:
    async def worker(w: int) -> None:
        for i in range(INCREMENTS):
            await increment(manager, key_for(w, i))

    await asyncio.gather(*(worker(w) for w in range(TASKS)))
    expected = Counter(key_for(w, i) for w in range(TASKS) for i in range(INCREMENTS))
    assert await counters(manager) == dict(expected)
    assert sum((await counters(manager)).values()) == TASKS * INCREMENTS
    assert manager.metrics.snapshot()["ops"]["transaction"]["outcomes"]["commit"] >= 1000


async def test_two_managers_in_one_process_lose_no_increment(
    make_store_url: StoreURLFactory,
) -> None:
    url = make_store_url()
    async with state.open_state(url) as one, state.open_state(url) as two:

        async def worker(manager: StateManager, w: int) -> None:
            for i in range(20):
                await increment(manager, key_for(w, i))

        await asyncio.gather(*(worker(m, w) for m in (one, two) for w in range(5)))
        assert sum((await counters(one)).values()) == 2 * 5 * 20
        assert await counters(one) == await counters(two)


async def test_concurrent_chapters_fold_like_sequential_ones(story: StateManager) -> None:
    deltas = [delta(c, move("Mara", f"p{c - 1}", f"p{c}")) for c in range(1, 13)]
    results = await asyncio.gather(*(story.apply(d) for d in reversed(deltas)))
    assert len({r.seq for r in results}) == len(deltas)
    latest = await story.snapshot()
    assert without_version(latest) == without_version(fold_deltas(INITIAL, deltas))
    assert latest.characters["Mara"].location == "p12"


async def test_a_cancelled_waiting_writer_does_not_stall_the_group(manager: StateManager) -> None:
    waiting: asyncio.Task[None] | None = None

    async def first() -> None:
        nonlocal waiting
        async with manager.transaction() as tx:
            await tx.put("k/first", 1)
            waiting = asyncio.create_task(increment(manager, "k/second"))
            await asyncio.sleep(0.05)  # the second writer is now queued behind us
            waiting.cancel()

    task = asyncio.create_task(first())
    try:
        done, _ = await asyncio.wait({task}, timeout=1)
        assert task in done, "the first writer never got its commit acknowledged"
        await task
        async with manager.transaction() as tx:
            assert await tx.get("k/first") == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # A later writer closes the group that the stalled one left open.
        async with manager.transaction() as tx:
            await tx.put("k/cleanup", 1)


async def test_writers_cancelled_at_any_point_never_stall_the_store(manager: StateManager) -> None:
    """Cancel one of several writers after each number of loop turns in turn: wherever the
    cancellation lands (queued, in its body, handing on, closing), later writers go on."""
    for writers in (1, 3):
        for turns in range(10):
            keys = [f"k/{writers}-{turns}-{w}" for w in range(writers)]
            tasks = [asyncio.create_task(increment(manager, key)) for key in keys]
            for _ in range(turns):
                await asyncio.sleep(0)
            tasks[0].cancel()
            done, _ = await asyncio.wait(tasks, timeout=10)
            assert len(done) == writers, f"writers stalled ({writers} writers, turn {turns})"
            after = asyncio.create_task(increment(manager, "k/after"))
            done, _ = await asyncio.wait({after}, timeout=10)
            assert after in done, f"a later writer stalled ({writers} writers, turn {turns})"


WORKER = """
import asyncio, sys
import state

async def main(url, worker, increments, keys):
    async with state.open_state(url) as manager:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        for i in range(increments):
            key = f"counter/{(worker + i) % keys}"
            async with manager.transaction() as tx:
                await tx.put(key, await tx.get(key, 0) + 1)
    print("done", flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"""

PROCESSES = 20
PROCESS_INCREMENTS = 30


@pytest.mark.slow
async def test_processes_lose_no_increment(store_url: str, tmp_path: Path) -> None:
    procs: list[asyncio.subprocess.Process] = []
    try:
        for w in range(PROCESSES):
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    WORKER,
                    store_url,
                    str(w),
                    str(PROCESS_INCREMENTS),
                    str(KEYS),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=tmp_path,
                )
            )
        for proc in procs:  # all are open and waiting: start them at once
            assert proc.stdout is not None
            ready = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
            assert ready == b"ready\n", (await proc.communicate())[1].decode()
        outputs = await asyncio.wait_for(
            asyncio.gather(*(proc.communicate(b"go\n") for proc in procs)), timeout=120
        )
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out == b"done\n"

    async with state.open_state(store_url) as manager:
        found = await counters(manager)
    expected = Counter(
        f"counter/{(w + i) % KEYS}" for w in range(PROCESSES) for i in range(PROCESS_INCREMENTS)
    )
    assert found == dict(expected)
    assert sum(found.values()) == PROCESSES * PROCESS_INCREMENTS
