"""``bench continuity``: injections, their ground truth, and the scoring of what was caught."""

from __future__ import annotations

from agents.schemas import ChapterPlan, ContinuityFinding, Outline
from orchestrator.bench.continuity import Injection, Tally, WrittenBook, candidates, score
from orchestrator.run.frontier import contradicted
from state.models import CharacterState, FieldChange, FieldRead, StateDelta, StoryState

INITIAL = StoryState(
    characters={
        "Ana": CharacterState(name="Ana", location="pier", inventory=["a key"]),
        "Ben": CharacterState(name="Ben", location="inn"),
    }
)


def plan(number: int, setting: str, *cast: str) -> ChapterPlan:
    return ChapterPlan(
        number=number, title=f"Ch {number}", pov=cast[0], setting=setting,
        characters=list(cast), beats=["something happens"],
    )  # fmt: skip


OUTLINE = Outline(
    chapters=[
        plan(1, "pier", "Ana", "Ben"),
        plan(2, "inn", "Ben"),
        plan(3, "inn", "Ana", "Ben"),
        plan(4, "tower", "Ben"),
        plan(5, "tower", "Ana"),
    ]
)
TEXTS = {
    1: "Ana and Ben at the pier.",
    2: "Ben alone at the inn.",
    3: "Ana turned a key over at the inn; Ben watched.",
    4: "Ben climbed the tower.",
    5: "Ana reached the tower.",
}


def written(number: int, where: dict[str, str]) -> StateDelta:
    """The delta the writer would commit: the cast moves to the setting, reads the rest."""
    setting = OUTLINE.chapter(number).setting
    cast = OUTLINE.chapter(number).characters
    changes = [
        FieldChange(key=f"characters/{who}", field="location", old=where[who], new=setting)
        for who in cast
    ]
    reads = [FieldRead(key=f"characters/{who}", field="alive", value=True) for who in cast]
    if "Ana" in cast:
        reads.append(FieldRead(key="characters/Ana", field="inventory", value=["a key"]))
    where.update(dict.fromkeys(cast, setting))
    return StateDelta(chapter=number, changes=changes, reads=reads)


def book() -> WrittenBook:
    where = {"Ana": "pier", "Ben": "inn"}
    deltas = {n: written(n, where) for n in range(1, 6)}
    summaries = {n: f"summary {n}" for n in deltas}
    return WrittenBook(OUTLINE, INITIAL, deltas, TEXTS, summaries)


def death_of_ana_in_1() -> Injection:
    found = candidates(book(), "dead")
    (injection,) = [i for i in found if i.chapter == 1 and i.character == "Ana"]
    return injection


def test_the_ground_truth_of_a_death_is_the_later_chapters_that_show_the_character() -> None:
    assert death_of_ana_in_1().truth == {3, 5}


def test_the_frontier_sends_the_dependent_chapters_to_revision() -> None:
    written_book = book()
    assert contradicted(written_book.initial, OUTLINE, written_book.deltas) == {}
    injection = death_of_ana_in_1()
    flagged = contradicted(INITIAL, OUTLINE, {**written_book.deltas, 1: injection.delta})
    assert set(flagged) == {3, 5}


def test_a_death_the_read_sets_catch_has_recall_1() -> None:
    tally = Tally()
    tally.add(score(death_of_ana_in_1(), flagged={3, 5}, findings=[]))
    figures = tally.to_dict()
    assert figures["caught_by_read_sets"] == 1
    assert figures["recall"] == 1.0
    assert figures["read_sets"]["recall"] == 1.0
    assert figures["precision"] == 1.0
    assert figures["editor"]["recall"] == 0.0


def test_a_false_finding_lowers_precision() -> None:
    wrong = ContinuityFinding(chapter=4, kind="location", subject="Ben", detail="Ben twice")
    right = ContinuityFinding(chapter=3, kind="dead_character", subject="Ana", detail="Ana acts")
    tally = Tally()
    tally.add(score(death_of_ana_in_1(), flagged={3, 5, 2}, findings=[wrong, right]))
    figures = tally.to_dict()
    assert figures["caught_by_editor"] == 1
    assert figures["false_findings"] == 2  # chapter 2 sent to revision, and the wrong finding
    assert figures["precision"] == 0.6  # 2 chapters + 1 finding true, of 5
    assert figures["read_sets"]["precision"] == round(2 / 3, 3)


def test_what_the_book_as_written_already_had_is_not_counted() -> None:
    old = ContinuityFinding(chapter=4, kind="other", subject="Ben", detail="already there")
    trial = score(death_of_ana_in_1(), flagged={2, 3, 5}, findings=[old], before=({2}, [old]))
    assert trial.flagged == {3, 5}
    assert trial.findings == ()


def test_a_lost_item_depends_on_chapters_that_show_it() -> None:
    lost = [i for i in candidates(book(), "item") if i.chapter == 1]
    assert [(i.character, i.detail, set(i.truth)) for i in lost] == [("Ana", "a key", {3})]
    (change,) = [c for c in lost[0].delta.changes if c.field == "inventory"]
    assert (change.old, change.new) == (["a key"], [])
