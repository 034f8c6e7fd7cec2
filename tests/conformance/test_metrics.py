"""manager.metrics: lock waits and outcomes of every operation, as plain JSON."""

from __future__ import annotations

import json

import pytest

from state import StateManager
from tests.support import delta, move

PERCENTILE_KEYS = ("p50_ms", "p95_ms", "p99_ms", "p99.9_ms", "max_ms")


async def commit(manager: StateManager, n: int) -> None:
    for i in range(n):
        async with manager.transaction() as tx:
            await tx.put(f"k/{i}", i)


async def abort(manager: StateManager, n: int) -> None:
    async def failing() -> None:
        async with manager.transaction() as tx:
            await tx.put("k/aborted", 1)
            raise KeyError("no")

    for _ in range(n):
        with pytest.raises(KeyError):
            await failing()


async def test_the_snapshot_is_json_serialisable(story: StateManager) -> None:
    await commit(story, 2)
    await abort(story, 1)
    await story.apply(delta(1, move("Mara", "harbour", "ship")))
    await story.snapshot()
    await story.history()
    snap = story.metrics.snapshot()
    assert json.loads(json.dumps(snap, allow_nan=False)) == snap


async def test_commits_and_aborts_are_counted_per_operation(story: StateManager) -> None:
    story.metrics.reset()
    await commit(story, 3)
    await abort(story, 2)
    await story.apply(delta(1, move("Mara", "harbour", "ship")))
    snap = story.metrics.snapshot()
    assert snap["ops"]["transaction"]["outcomes"] == {"commit": 3, "abort": 2}
    assert snap["ops"]["apply"]["outcomes"] == {"commit": 1}
    assert snap["committed"] == 4
    assert snap["lock_wait"]["count"] == 6


async def test_lock_wait_has_percentiles(manager: StateManager) -> None:
    await commit(manager, 5)
    snap = manager.metrics.snapshot()
    for summary in (snap["lock_wait"], snap["ops"]["transaction"]["lock_wait"]):
        assert summary["count"] == 5
        values = [summary[key] for key in PERCENTILE_KEYS]
        assert all(isinstance(v, (int, float)) and v >= 0 for v in values)
        assert values == sorted(values)
        assert summary["mean_ms"] <= summary["max_ms"]
    hold = snap["ops"]["transaction"]["hold"]
    assert hold["count"] == 5
    assert all(key in hold for key in PERCENTILE_KEYS)


async def test_reads_are_counted_as_reads(story: StateManager) -> None:
    story.metrics.reset()
    await story.snapshot()
    await story.snapshot(as_of_chapter=2)
    await story.history()
    await story.chapters()
    snap = story.metrics.snapshot()
    assert snap["ops"]["snapshot"]["outcomes"] == {"read": 2}
    assert snap["ops"]["history"]["outcomes"] == {"read": 1}
    assert snap["ops"]["chapters"]["outcomes"] == {"read": 1}
    assert snap["committed"] == 0
    assert snap["lock_wait"] == {"count": 0}


async def test_the_snapshot_names_the_backend(manager: StateManager, store_url: str) -> None:
    assert manager.metrics.snapshot()["backend"] == store_url.split("://", 1)[0]


async def test_a_duplicate_apply_is_counted_as_duplicate_not_commit(story: StateManager) -> None:
    first = delta(2, move("Mara", "harbour", "ship"))
    await story.apply(first)
    await story.apply(first)
    outcomes = story.metrics.snapshot()["ops"]["apply"]["outcomes"]
    assert outcomes == {"commit": 1, "duplicate": 1}
