"""apply(StateDelta): idempotent, atomic with its chapter record, aware of stale reads."""

from __future__ import annotations

import asyncio
import itertools

import state
from state import ChapterRecord, StateManager
from state.models import Conflicting
from tests.support import (
    INITIAL,
    RUN_ID,
    StoreURLFactory,
    change,
    delta,
    feel,
    fold_deltas,
    move,
    without_version,
)


async def test_apply_changes_the_latest_state(story: StateManager) -> None:
    result = await story.apply(
        delta(1, move("Mara", "harbour", "ship"), feel("Teo", "wary", "glad"))
    )
    assert result.applied
    assert not result.duplicate
    assert result.conflicts == []
    assert result.invalidated_chapters == []
    latest = await story.snapshot()
    assert latest.characters["Mara"].location == "ship"
    assert latest.characters["Teo"].emotion == "glad"
    assert latest.characters["Ilse"] == INITIAL.characters["Ilse"]


async def test_duplicate_apply_changes_nothing_and_says_so(story: StateManager) -> None:
    first = await story.apply(delta(1, move("Mara", "harbour", "ship")))
    before = await story.snapshot()
    history = await story.history()

    again = await story.apply(delta(1, move("Mara", "harbour", "ship")))

    assert again.duplicate
    assert not again.applied
    assert again.seq == first.seq
    assert again.idempotency_key == first.idempotency_key == f"{RUN_ID}:1:1"
    assert await story.snapshot() == before
    assert await story.history() == history


async def test_the_idempotency_key_is_run_chapter_attempt(story: StateManager) -> None:
    await story.apply(delta(1, move("Mara", "harbour", "ship")))
    # Same key, different content: still a duplicate; the first one counts.
    second = await story.apply(delta(1, move("Mara", "harbour", "cave")))
    assert second.duplicate
    assert (await story.snapshot()).characters["Mara"].location == "ship"
    # Another run is another key.
    other = await story.apply(delta(1, move("Mara", "harbour", "cave"), run_id="run-2"))
    assert not other.duplicate
    assert other.idempotency_key == "run-2:1:1"


async def test_concurrent_retries_of_one_delta_apply_it_once(story: StateManager) -> None:
    d = delta(1, move("Mara", "harbour", "ship"))
    results = await asyncio.gather(*(story.apply(d) for _ in range(8)))
    assert sum(r.applied for r in results) == 1
    assert sum(r.duplicate for r in results) == 7
    assert len({r.seq for r in results}) == 1
    assert len(await story.history()) == 1


async def test_the_chapter_record_is_committed_with_the_delta(story: StateManager) -> None:
    record = ChapterRecord(chapter=2, status="written", title="Low Tide", word_count=3100)
    result = await story.apply(delta(2, move("Mara", "harbour", "ship"), attempt=2, record=record))
    chapters = await story.chapters()
    assert set(chapters) == {2}
    kept = chapters[2]
    assert (kept.status, kept.title, kept.word_count) == ("written", "Low Tide", 3100)
    assert kept.attempt == 2
    [event] = await story.history()
    assert event.seq == result.seq


async def test_a_duplicate_does_not_replace_the_chapter_record(story: StateManager) -> None:
    await story.apply(delta(1, record=ChapterRecord(chapter=1, status="written", title="A")))
    await story.apply(delta(1, record=ChapterRecord(chapter=1, status="failed", title="B")))
    assert (await story.chapters())[1].title == "A"


async def test_a_stale_old_value_is_reported_as_a_conflict(story: StateManager) -> None:
    await story.apply(delta(1, move("Mara", "harbour", "ship")))
    # Chapter 2 was written from a state in which Mara was still in the harbour.
    result = await story.apply(
        delta(2, move("Mara", "harbour", "cave"), feel("Mara", "calm", "cold"))
    )
    assert result.applied
    assert result.conflicts == [
        Conflicting(key="characters/Mara", field="location", expected="harbour", actual="ship")
    ]
    # The change is still applied: the conflict is reported, not refused.
    assert (await story.snapshot()).characters["Mara"].location == "cave"


async def test_the_old_value_is_checked_against_the_chapter_not_the_latest(
    story: StateManager,
) -> None:
    await story.apply(delta(5, move("Mara", "ship", "island")))
    result = await story.apply(delta(2, move("Mara", "harbour", "ship")))
    assert result.conflicts == []


async def test_a_new_document_has_none_as_its_old_values(story: StateManager) -> None:
    ok = await story.apply(delta(1, change("foreshadowing/bell", "status", None, "planted")))
    assert ok.conflicts == []
    wrong = await story.apply(
        delta(2, change("foreshadowing/mirror", "status", "planned", "planted"))
    )
    assert wrong.conflicts == [
        Conflicting(key="foreshadowing/mirror", field="status", expected="planned", actual=None)
    ]


async def test_rewriting_an_earlier_chapter_invalidates_later_readers(story: StateManager) -> None:
    await story.apply(delta(1, move("Mara", "harbour", "ship")))
    await story.apply(delta(3, move("Mara", "ship", "island"), feel("Teo", "wary", "angry")))
    await story.apply(delta(4, feel("Teo", "angry", "calm")))

    # Chapter 2 arrives late and moves Mara elsewhere: chapter 3 read "ship".
    late = await story.apply(delta(2, move("Mara", "ship", "cave")))
    assert late.conflicts == []
    assert late.invalidated_chapters == [3]

    # A chapter 2 that agrees with what chapter 3 read invalidates nothing.
    agreeing = await story.apply(delta(2, move("Mara", "ship", "ship"), attempt=2))
    assert agreeing.invalidated_chapters == []

    # Touching a field no later chapter set invalidates nothing either.
    unrelated = await story.apply(delta(2, feel("Ilse", "neutral", "curious"), attempt=3))
    assert unrelated.invalidated_chapters == []


async def test_a_higher_attempt_supersedes_a_lower_one(story: StateManager) -> None:
    await story.apply(delta(1, move("Mara", "harbour", "ship"), feel("Mara", "calm", "sick")))
    result = await story.apply(delta(1, feel("Mara", "calm", "brave"), attempt=2))
    assert result.applied
    latest = await story.snapshot()
    # Attempt 2 set the emotion; attempt 1's move no longer counts.
    assert latest.characters["Mara"].emotion == "brave"
    assert latest.characters["Mara"].location == "harbour"
    snap = await story.snapshot(as_of_chapter=2)
    assert (snap.characters["Mara"].location, snap.characters["Mara"].emotion) == (
        "harbour",
        "brave",
    )


async def test_superseded_changes_stay_in_history_marked_superseded(story: StateManager) -> None:
    first = await story.apply(
        delta(
            2, move("Teo", "inn", "docks"), change("foreshadowing/bell", "status", None, "planted")
        )
    )
    second = await story.apply(delta(2, feel("Teo", "wary", "tired"), attempt=2))

    latest = await story.snapshot()
    assert "bell" not in latest.foreshadowing
    assert latest.characters["Teo"].location == "inn"
    assert "bell" not in (await story.snapshot(as_of_chapter=3)).foreshadowing

    events = {e.seq: e for e in await story.history(include_superseded=True)}
    assert events[first.seq].superseded
    assert events[first.seq].attempt == 1
    assert {c.key for c in events[first.seq].changes} == {"characters/Teo", "foreshadowing/bell"}
    assert not events[second.seq].superseded
    assert [e.seq for e in await story.history(include_superseded=False)] == [second.seq]


async def test_a_late_lower_attempt_only_joins_the_history(story: StateManager) -> None:
    record3 = ChapterRecord(chapter=1, status="written", title="third try")
    await story.apply(delta(1, move("Mara", "harbour", "ship"), attempt=3, record=record3))
    record1 = ChapterRecord(chapter=1, status="written", title="first try")
    late = await story.apply(delta(1, move("Mara", "harbour", "cave"), attempt=1, record=record1))
    assert late.applied
    assert not late.duplicate
    assert (await story.snapshot()).characters["Mara"].location == "ship"
    assert (await story.chapters())[1].title == "third try"
    [kept_event] = await story.history(include_superseded=False)
    assert kept_event.attempt == 3
    assert [e.superseded for e in await story.history()] == [False, True]
    assert (await story.apply(delta(1, attempt=1))).duplicate


CHAPTERS = {
    1: delta(1, move("Mara", "harbour", "ship"), feel("Teo", "wary", "glad")),
    3: delta(
        3, move("Mara", "ship", "island"), change("foreshadowing/bell", "status", None, "planted")
    ),
    5: delta(
        5,
        move("Mara", "island", "harbour"),
        change("foreshadowing/bell", "status", "planted", "paid_off"),
        feel("Teo", "glad", "grim"),
    ),
}


async def test_chapter_5_before_chapter_3_gives_the_same_state(
    make_store_url: StoreURLFactory,
) -> None:
    expected = fold_deltas(INITIAL, CHAPTERS.values())
    for order in itertools.permutations(CHAPTERS):
        async with state.open_state(make_store_url(durability="off")) as manager:
            await manager.initialize(INITIAL)
            for chapter in order:
                assert (await manager.apply(CHAPTERS[chapter])).applied
            assert without_version(await manager.snapshot()) == without_version(expected), order
            for k in (1, 2, 4, 6):
                as_of = [d for c, d in CHAPTERS.items() if c < k]
                snap = await manager.snapshot(as_of_chapter=k)
                assert without_version(snap) == without_version(fold_deltas(INITIAL, as_of)), (
                    order,
                    k,
                )
