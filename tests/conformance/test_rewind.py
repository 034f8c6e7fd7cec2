"""rewind(to_chapter=K): the state as chapters before K left it, ready for K to be rewritten."""

from __future__ import annotations

from state import ChapterRecord, StateManager
from tests.support import delta, feel, move, without_version


def record(chapter: int) -> ChapterRecord:
    return ChapterRecord(chapter=chapter, status="written", title=f"Chapter {chapter}")


async def write_three(story: StateManager) -> None:
    await story.apply(delta(1, move("Mara", "harbour", "ship"), record=record(1)))
    await story.apply(delta(2, move("Mara", "ship", "island"), record=record(2)))
    await story.apply(delta(3, feel("Teo", "wary", "glad"), record=record(3)))


async def test_rewind_restores_the_state_before_the_chapter(story: StateManager) -> None:
    await write_three(story)
    expected = await story.snapshot(as_of_chapter=2)

    result = await story.rewind(2)

    assert result.chapters == [2, 3]
    assert result.fields == 2
    assert without_version(await story.snapshot()) == without_version(expected)
    assert sorted(await story.chapters()) == [1]


async def test_rewound_deltas_stay_in_the_history_as_superseded(story: StateManager) -> None:
    await write_three(story)
    await story.rewind(2)

    events = await story.history()

    assert [(e.chapter, e.superseded) for e in events] == [(1, False), (2, True), (3, True)]


async def test_a_rewound_chapter_can_be_written_again(story: StateManager) -> None:
    await write_three(story)
    await story.rewind(2)

    again = await story.apply(delta(2, move("Mara", "ship", "cave"), attempt=2))

    assert again.applied
    assert again.conflicts == []
    assert (await story.snapshot()).characters["Mara"].location == "cave"
    # The first attempt's key stays used: it is never applied twice.
    assert (await story.apply(delta(2, move("Mara", "ship", "island")))).duplicate


async def test_rewinding_past_the_end_changes_nothing(story: StateManager) -> None:
    await write_three(story)
    before = await story.snapshot()

    result = await story.rewind(4)

    assert result.chapters == []
    assert result.seq is None
    assert await story.snapshot() == before
