"""A delta's read set: fields a chapter relied on without changing them."""

from __future__ import annotations

import pytest

from state import StateManager
from state.models import Conflicting, FieldRead, StateDelta
from tests.support import change, delta, move


def alive(who: str, value: bool) -> FieldRead:
    return FieldRead(key=f"characters/{who}", field="alive", value=value)


def reading(base: StateDelta, *reads: FieldRead) -> StateDelta:
    return base.model_copy(update={"reads": list(reads)})


async def test_a_read_that_still_holds_is_no_conflict(story: StateManager) -> None:
    result = await story.apply(
        reading(delta(2, move("Mara", "harbour", "ship")), alive("Teo", True))
    )
    assert result.conflicts == []


async def test_a_read_an_earlier_chapter_contradicts_is_a_conflict(story: StateManager) -> None:
    await story.apply(delta(3, change("characters/Teo", "alive", True, False)))
    result = await story.apply(reading(delta(4), alive("Teo", True)))
    assert result.conflicts == [
        Conflicting(key="characters/Teo", field="alive", expected=True, actual=False)
    ]


async def test_a_read_is_checked_against_the_chapter_not_the_latest(story: StateManager) -> None:
    await story.apply(delta(3, change("characters/Teo", "alive", True, False)))
    result = await story.apply(reading(delta(2), alive("Teo", True)))
    assert result.conflicts == []


async def test_reads_change_nothing_and_stay_in_history(story: StateManager) -> None:
    before = await story.snapshot()
    await story.apply(reading(delta(2), alive("Ilse", True)))
    after = await story.snapshot()
    assert after.characters == before.characters
    (event,) = await story.history()
    assert event.reads == [alive("Ilse", True)]


async def test_meta_documents_round_trip(story: StateManager) -> None:
    assert await story.meta("outline") is None
    await story.put_meta("outline", {"chapters": [1, 2, 3]})
    assert await story.meta("outline") == {"chapters": [1, 2, 3]}


@pytest.mark.parametrize("name", ["", "schema", "a/b"])
async def test_meta_names_are_one_segment_other_than_schema(story: StateManager, name: str) -> None:
    with pytest.raises(ValueError, match="meta name"):
        await story.put_meta(name, {})
