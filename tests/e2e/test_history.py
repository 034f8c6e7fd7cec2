"""The state store of a run: exactly one committed delta per chapter attempt.

Read through the library (``state.open_state``), as a tool inspecting a
finished run would; the drifted run has revisions, so superseded attempts too.
"""

from __future__ import annotations

from collections import Counter

import pytest

import state
from state.models import Event
from tests.e2e.conftest import Run

RUNS = ["en_run", "zh_run", "drift_run"]


async def history_of(run: Run) -> list[Event]:
    async with state.open_state(run.url, create=False) as manager:
        return await manager.history()


@pytest.fixture(params=RUNS)
def a_run(request: pytest.FixtureRequest) -> Run:
    run: Run = request.getfixturevalue(request.param)
    return run


async def test_one_event_per_draft_and_per_attempt(a_run: Run) -> None:
    per_chapter = Counter(event.chapter for event in await history_of(a_run))
    for number, outcome in a_run.outcomes().items():
        drafts = len(a_run.drafts(number))
        assert per_chapter[number] == drafts == outcome["attempts"], number


async def test_each_attempt_is_committed_once(a_run: Run) -> None:
    events = await history_of(a_run)
    keys = [event.idempotency_key for event in events]
    assert len(keys) == len(set(keys))
    attempts = sorted((event.chapter, event.attempt) for event in events)
    expected = sorted(
        (number, attempt)
        for number, outcome in a_run.outcomes().items()
        for attempt in range(1, outcome["attempts"] + 1)
    )
    assert attempts == expected


async def test_events_carry_the_run_id(a_run: Run) -> None:
    for event in await history_of(a_run):
        assert event.run_id == a_run.folder.name
        assert event.idempotency_key == f"{event.run_id}:{event.chapter}:{event.attempt}"


async def test_one_kept_event_per_chapter_and_it_is_the_kept_attempt(a_run: Run) -> None:
    kept = [event for event in await history_of(a_run) if not event.superseded]
    assert sorted(event.chapter for event in kept) == sorted(a_run.outcomes())
    for event in kept:
        assert event.attempt == a_run.outcomes()[event.chapter]["kept_attempt"]


async def test_commit_order_is_seq_order(a_run: Run) -> None:
    seqs = [event.seq for event in await history_of(a_run)]
    assert seqs == sorted(seqs)
    assert len(seqs) == len(set(seqs))


async def test_chapter_records_match_the_summary(a_run: Run) -> None:
    async with state.open_state(a_run.url, create=False) as manager:
        records = await manager.chapters()
    for number, outcome in a_run.outcomes().items():
        record = records[number]
        assert record.attempt == outcome["kept_attempt"]
        assert record.status == outcome["status"]
        assert record.word_count == outcome["words"]
        assert record.title == outcome["title"]


def test_history_command_prints_the_same_events(drift_run: Run) -> None:
    lines = drift_run.history()
    assert sum(o["attempts"] for o in drift_run.outcomes().values()) == len(lines)
    assert all(line["kind"] == "delta" for line in lines)
