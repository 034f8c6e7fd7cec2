"""snapshot(as_of_chapter=k): the fold of the kept deltas of chapters before k."""

from __future__ import annotations

from state import StateManager, StoryState
from tests.support import INITIAL, change, delta, feel, fold_deltas, move, without_version

BOOK = [
    delta(1, move("Mara", "harbour", "ship")),
    delta(2, feel("Mara", "calm", "seasick"), move("Teo", "inn", "ship")),
    delta(3, change("foreshadowing/bell", "description", None, "a bell under the sea")),
    delta(4, change("foreshadowing/bell", "status", None, "planted"), move("Mara", "ship", "reef")),
]


async def write_book(manager: StateManager) -> list[int]:
    return [(await manager.apply(d)).seq for d in BOOK]


async def test_before_chapter_1_is_the_initial_state(story: StateManager) -> None:
    await write_book(story)
    assert without_version(await story.snapshot(as_of_chapter=1)) == without_version(INITIAL)


async def test_as_of_each_chapter(story: StateManager) -> None:
    await write_book(story)
    for k in range(1, 7):
        expected = fold_deltas(INITIAL, [d for d in BOOK if d.chapter < k])
        assert without_version(await story.snapshot(as_of_chapter=k)) == without_version(
            expected
        ), k


async def test_as_of_chapter_2_shows_chapter_1_only(story: StateManager) -> None:
    await write_book(story)
    snap = await story.snapshot(as_of_chapter=2)
    assert snap.characters["Mara"].location == "ship"
    assert snap.characters["Mara"].emotion == "calm"
    assert snap.characters["Teo"].location == "inn"


async def test_latest_is_the_fold_of_every_chapter(story: StateManager) -> None:
    await write_book(story)
    latest = await story.snapshot()
    assert without_version(latest) == without_version(fold_deltas(INITIAL, BOOK))
    assert without_version(latest) == without_version(await story.snapshot(as_of_chapter=5))


async def test_a_document_created_by_a_delta_exists_from_the_next_chapter(
    story: StateManager,
) -> None:
    await write_book(story)
    assert "bell" not in (await story.snapshot(as_of_chapter=3)).foreshadowing
    bell = (await story.snapshot(as_of_chapter=4)).foreshadowing["bell"]
    assert (bell.id, bell.description, bell.status) == ("bell", "a bell under the sea", "planned")
    bell = (await story.snapshot()).foreshadowing["bell"]
    assert (bell.id, bell.description, bell.status) == ("bell", "a bell under the sea", "planted")
    assert (await story.snapshot()).foreshadowing["letter"] == INITIAL.foreshadowing["letter"]


async def test_version_is_the_last_sequence_number_folded(story: StateManager) -> None:
    assert (await story.snapshot()).version == 0
    seqs = await write_book(story)
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    assert (await story.snapshot()).version == seqs[-1]
    assert (await story.snapshot(as_of_chapter=1)).version == 0
    assert (await story.snapshot(as_of_chapter=3)).version == seqs[1]
    await story.apply(BOOK[0])  # a duplicate commits nothing
    assert (await story.snapshot()).version == seqs[-1]


async def test_a_snapshot_is_a_copy(story: StateManager) -> None:
    await write_book(story)
    snap = await story.snapshot()
    snap.characters["Mara"].inventory.append("stolen")
    snap.characters.pop("Teo")
    again = await story.snapshot()
    assert again.characters["Mara"].inventory == []
    assert "Teo" in again.characters


async def test_an_empty_store_has_an_empty_story(manager: StateManager) -> None:
    assert without_version(await manager.snapshot()) == without_version(StoryState())
    assert without_version(await manager.snapshot(as_of_chapter=3)) == without_version(StoryState())
