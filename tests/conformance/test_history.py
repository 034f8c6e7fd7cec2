"""history(): who changed which field, from what to what, and when."""

from __future__ import annotations

from datetime import UTC, datetime

from state import ChapterRecord, StateManager
from tests.support import RUN_ID, change, delta, feel, move


async def write_three(story: StateManager) -> list[int]:
    deltas = [
        delta(1, move("Mara", "harbour", "ship"), author="drafter"),
        delta(2, feel("Teo", "wary", "glad"), move("Mara", "ship", "reef"), author="reviser"),
        delta(2, feel("Teo", "wary", "sad"), attempt=2, author="reviser"),
    ]
    return [(await story.apply(d)).seq for d in deltas]


async def test_events_come_in_commit_order_with_who_what_when(story: StateManager) -> None:
    before = datetime.now(UTC)
    seqs = await write_three(story)
    after = datetime.now(UTC)

    events = await story.history()
    assert [e.seq for e in events] == seqs
    first = events[0]
    assert (first.chapter, first.attempt, first.run_id) == (1, 1, RUN_ID)
    assert first.idempotency_key == f"{RUN_ID}:1:1"
    assert first.author == "drafter"
    assert first.at.tzinfo is not None
    assert before <= first.at <= after
    [what] = first.changes
    assert (what.key, what.field, what.old, what.new) == (
        "characters/Mara",
        "location",
        "harbour",
        "ship",
    )
    assert [e.at for e in events] == sorted(e.at for e in events)


async def test_filter_by_chapter(story: StateManager) -> None:
    await write_three(story)
    assert [(e.chapter, e.attempt) for e in await story.history(chapter=2)] == [(2, 1), (2, 2)]
    assert await story.history(chapter=7) == []


async def test_filter_by_key_keeps_only_that_documents_changes(story: StateManager) -> None:
    await write_three(story)
    events = await story.history(key="characters/Mara")
    assert [e.chapter for e in events] == [1, 2]
    assert {c.key for e in events for c in e.changes} == {"characters/Mara"}
    assert [c.new for e in events for c in e.changes] == ["ship", "reef"]
    assert await story.history(key="foreshadowing/letter") == []


async def test_filter_after_a_sequence_number(story: StateManager) -> None:
    seqs = await write_three(story)
    assert [e.seq for e in await story.history(after_seq=seqs[0])] == seqs[1:]
    assert await story.history(after_seq=seqs[-1]) == []


async def test_superseded_attempts_can_be_left_out(story: StateManager) -> None:
    seqs = await write_three(story)
    everything = await story.history()
    assert [e.superseded for e in everything] == [False, True, False]
    assert [e.seq for e in await story.history(include_superseded=False)] == [seqs[0], seqs[2]]


async def test_filters_combine(story: StateManager) -> None:
    seqs = await write_three(story)
    events = await story.history(chapter=2, key="characters/Teo", include_superseded=False)
    assert [(e.seq, [c.new for c in e.changes]) for e in events] == [(seqs[2], ["sad"])]


async def test_chapters_lists_the_records_by_chapter(story: StateManager) -> None:
    from state import ChapterRecord

    await story.apply(delta(1, record=ChapterRecord(chapter=1, status="written", title="One")))
    await story.put_chapter(ChapterRecord(chapter=2, status="writing"))
    chapters = await story.chapters()
    assert sorted(chapters) == [1, 2]
    assert chapters[1].title == "One"
    assert chapters[2].status == "writing"


async def test_a_delta_creating_a_document_shows_none_as_old(story: StateManager) -> None:
    await story.apply(delta(3, change("foreshadowing/bell", "status", None, "planted")))
    [event] = await story.history(key="foreshadowing/bell")
    assert [(c.old, c.new) for c in event.changes] == [(None, "planted")]


async def test_an_event_that_is_not_a_delta_does_not_break_history(story: StateManager) -> None:
    try:
        async with story.transaction() as tx:
            await tx.append_event({"note": "outline approved"}, chapter=1)
    except (TypeError, ValueError):
        pass  # refusing it up front would do too
    result = await story.apply(delta(1, move("Mara", "harbour", "ship")))
    assert [e.seq for e in await story.history()] == [result.seq]


async def test_an_event_says_why_its_attempt_was_made_and_the_digest_of_its_text(
    story: StateManager,
) -> None:
    record = ChapterRecord(chapter=3, status="revised", attempt=2, digest="ab" * 32)
    edited = delta(3, move("Mara", "harbour", "reef"), attempt=2, author="human", record=record)
    await story.apply(edited.model_copy(update={"reason": "edited by the author"}))
    await story.apply(delta(4, feel("Teo", "wary", "glad")))
    first, second = await story.history()
    assert (first.author, first.reason, first.digest) == (
        "human",
        "edited by the author",
        "ab" * 32,
    )
    assert (second.reason, second.digest) == ("", None)
