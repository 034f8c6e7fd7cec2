"""StoryFrontier: exact state up to the frontier, committed or planned changes beyond it."""

from __future__ import annotations

import pytest

from agents.planned import planned_state
from agents.schemas import ChapterPlan, Outline
from orchestrator.run.frontier import StoryFrontier
from state.models import CharacterState, FieldChange, FieldRead, StateDelta, StoryState

INITIAL = StoryState(
    characters={
        "Mara": CharacterState(name="Mara", location="office"),
        "Teo": CharacterState(name="Teo", location="inn"),
    }
)


def plan(number: int, setting: str, *cast: str) -> ChapterPlan:
    return ChapterPlan(
        number=number, title=f"Ch {number}", pov=cast[0], setting=setting,
        characters=list(cast), beats=["something happens"],
    )  # fmt: skip


OUTLINE = Outline(
    chapters=[
        plan(1, "pier", "Mara"),
        plan(2, "inn", "Mara", "Teo"),
        plan(3, "tower", "Teo"),
    ]
)


def move(who: str, old: str, new: str) -> FieldChange:
    return FieldChange(key=f"characters/{who}", field="location", old=old, new=new)


def test_beyond_the_frontier_a_chapter_reads_the_plan() -> None:
    frontier = StoryFrontier(INITIAL, OUTLINE)
    assert frontier.state_for(3).documents() == planned_state(INITIAL, OUTLINE, 3).documents()


def test_a_committed_chapter_counts_instead_of_its_plan() -> None:
    frontier = StoryFrontier(INITIAL, OUTLINE)
    frontier.committed(1, [move("Mara", "office", "cliffs")])
    assert frontier.state_for(2).characters["Mara"].location == "cliffs"
    # Chapter 2 is not committed: chapter 3 reads its plan (Mara at the inn).
    assert frontier.state_for(3).characters["Mara"].location == "inn"


def test_contradictions_compare_old_values_and_reads_with_the_exact_state() -> None:
    frontier = StoryFrontier(INITIAL, OUTLINE)
    frontier.committed(1, [move("Mara", "office", "cliffs")])
    frontier.finalize()
    stale = StateDelta(
        chapter=2,
        changes=[move("Mara", "pier", "inn")],
        reads=[FieldRead(key="characters/Teo", field="location", value="inn")],
    )
    found = frontier.contradictions(stale)
    assert [(c.key, c.expected, c.actual) for c in found] == [("characters/Mara", "pier", "cliffs")]


def test_only_the_frontier_chapter_can_be_validated() -> None:
    frontier = StoryFrontier(INITIAL, OUTLINE)
    with pytest.raises(ValueError, match="not the frontier"):
        frontier.contradictions(StateDelta(chapter=2))


def test_finalizing_folds_the_committed_changes_and_moves_on() -> None:
    frontier = StoryFrontier(INITIAL, OUTLINE)
    frontier.committed(1, [move("Mara", "office", "cliffs")])
    frontier.finalize()
    frontier.finalize()  # chapter 2 failed: nothing of it counts
    assert frontier.next == 3
    assert frontier.state().characters["Mara"].location == "cliffs"
    assert not frontier.done
    frontier.finalize()
    assert frontier.done
