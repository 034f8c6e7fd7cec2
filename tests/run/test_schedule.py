"""Schedule: which chapters may start under each mode, lowest first, within the workers."""

from __future__ import annotations

from orchestrator.run.schedule import Schedule


def test_parallel_starts_up_to_the_workers_in_chapter_order() -> None:
    schedule = Schedule(10, "parallel", None, workers=4)
    assert schedule.take(frontier=1, running=0) == [1, 2, 3, 4]
    assert schedule.take(frontier=1, running=4) == []
    assert schedule.take(frontier=1, running=2) == [5, 6]


def test_sequential_starts_only_the_frontier_chapter() -> None:
    schedule = Schedule(5, "sequential", None, workers=20)
    assert schedule.take(frontier=1, running=0) == [1]
    assert schedule.take(frontier=1, running=0) == []
    assert schedule.take(frontier=2, running=0) == [2]


def test_window_lets_chapter_k_start_when_k_minus_n_is_final() -> None:
    schedule = Schedule(10, "window", 3, workers=20)
    assert schedule.take(frontier=1, running=0) == [1, 2, 3]
    assert schedule.take(frontier=3, running=1) == [4, 5]


def test_a_revision_goes_before_later_chapters() -> None:
    schedule = Schedule(6, "parallel", None, workers=2)
    assert schedule.take(frontier=1, running=0) == [1, 2]
    schedule.queue(1)
    assert schedule.take(frontier=1, running=1) == [1]
    assert schedule.slots[1].status == "queued"
