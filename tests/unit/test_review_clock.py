"""A review puts every process of a resumed run on one clock: seconds since the run began."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.review.review import calls_on_run_clock, sessions, timeline

ORIGIN = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


def call(session: int, started_s: float, started_at: str | None, chapter: int) -> dict[str, Any]:
    return {
        "agent": "writer", "model": "offline", "chapter": chapter, "attempt": 1,
        "started_s": started_s, "latency_s": 2.0, "session": session, "started_at": started_at,
        "usage": {}, "error": None,
    }  # fmt: skip


def test_a_resumed_process_comes_after_the_one_that_died() -> None:
    # Both processes count started_s from their own start: 1.0 s into each.
    metrics = {
        "clock": {"llm_minus_state_s": 0.0},
        "llm": {
            "calls": [
                call(0, 1.0, "2025-03-01T09:00:01.000000Z", 1),
                call(1, 1.0, "2025-03-01T09:10:01.000000Z", 2),
            ]
        },
    }
    calls = calls_on_run_clock(metrics, ORIGIN)
    assert [(c["start_s"], c["end_s"]) for c in calls] == [(1.0, 3.0), (601.0, 603.0)]
    assert sessions(calls) == [
        {"session": 0, "first_call_s": 1.0},
        {"session": 1, "first_call_s": 601.0},
    ]
    assert [row["start_s"] for row in timeline(calls)] == [1.0, 601.0]


def test_calls_of_older_runs_keep_the_stores_clock() -> None:
    metrics = {"clock": {"llm_minus_state_s": 0.5}, "llm": {"calls": [call(0, 1.0, None, 1)]}}
    [placed] = calls_on_run_clock(metrics, ORIGIN, state_s=2.0)
    assert placed["start_s"] == 3.5
