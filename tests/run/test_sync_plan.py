"""The sync plan: which chapters changed, and which later chapters their new deltas
contradict (to revise, or a finding when the author wrote them)."""

from __future__ import annotations

import hashlib

from agents.schemas import ChapterDraft, ChapterPlan, Outline
from orchestrator.run.sync_plan import (
    BookOnRecord,
    Changes,
    conflict_key,
    find_changes,
    known_contradictions,
    predict,
)
from state.models import (
    ChapterRecord,
    CharacterState,
    FieldChange,
    FieldRead,
    StateDelta,
    StoryState,
)

INITIAL = StoryState(
    characters={
        "Mara": CharacterState(name="Mara", location="office"),
        "Teo": CharacterState(name="Teo", location="inn"),
    }
)


def plan(number: int, *cast: str, setting: str = "pier") -> ChapterPlan:
    return ChapterPlan(
        number=number, title=f"Ch {number}", pov=cast[0], setting=setting,
        characters=list(cast), beats=["something happens"],
    )  # fmt: skip


OUTLINE = Outline(chapters=[plan(1, "Mara"), plan(2, "Teo"), plan(3, "Mara"), plan(4, "Teo")])


def text(n: int) -> str:
    return f"Chapter {n} as written."


def digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def alive(who: str, value: bool = True) -> FieldRead:
    return FieldRead(key=f"characters/{who}", field="alive", value=value)


def kept(n: int, *reads: FieldRead, author: str = "writer") -> StateDelta:
    record = ChapterRecord(chapter=n, attempt=1, digest=digest(text(n)))
    return StateDelta(chapter=n, author=author, reads=list(reads), record=record)


def book(outline: Outline = OUTLINE, **files: str) -> BookOnRecord:
    deltas = {
        1: kept(1, alive("Mara")),
        2: kept(2, alive("Teo")),
        3: kept(3, alive("Mara")),
        4: kept(4, alive("Teo")),
    }
    on_disk = {n: f"# Chapter {n}\n\n{text(n)}\n" for n in deltas}
    on_disk |= {int(n.removeprefix("ch")): body for n, body in files.items()}
    return BookOnRecord(INITIAL, OUTLINE, outline, deltas, on_disk)


def death(n: int, who: str, author: str = "human") -> ChapterDraft:
    change = FieldChange(key=f"characters/{who}", field="alive", old=True, new=False)
    delta = StateDelta(chapter=n, attempt=2, author=author, changes=[change])
    return ChapterDraft(
        chapter=n, attempt=2, title="", text="", summary="", word_count=0, delta=delta,
        prompt_tokens=0,
    )  # fmt: skip


def test_an_untouched_book_has_no_changes() -> None:
    assert find_changes(book()).empty


def test_a_file_that_no_longer_matches_its_digest_is_an_edit() -> None:
    edited = "# Chapter 2\n\nTeo died.\n"
    changes = find_changes(book(ch2=edited))
    assert changes.edited == {2: edited}
    assert changes.replanned == []


def test_a_changed_plan_is_found_and_an_edit_wins_over_it() -> None:
    outline = OUTLINE.model_copy(deep=True)
    outline.chapters[1].setting = "tower"
    outline.chapters[2].setting = "tower"
    changes = find_changes(book(outline, ch3="# Chapter 3\n\nMara left.\n"))
    assert changes.replanned == [2]
    assert list(changes.edited) == [3]


def test_an_interrupted_syncs_rewrites_stay_until_a_new_attempt_is_kept() -> None:
    assert find_changes(book(), replan={4: 1}).replanned == [4]
    assert find_changes(book(), replan={4: 0}).replanned == []


def test_a_death_sends_only_the_chapters_that_read_the_living_to_revision() -> None:
    on_record = book(ch1="# Chapter 1\n\nMara died.\n")
    changes = find_changes(on_record)
    found = predict(on_record, changes, {1: death(1, "Mara")}, {})
    assert list(found.revise) == [3]
    assert found.revise[3][0].actual is False
    assert found.findings == {}


def test_the_authors_own_later_chapter_becomes_a_finding() -> None:
    on_record = book(ch1="# Chapter 1\n\nMara died.\n")
    deltas = dict(on_record.kept)
    deltas[3] = kept(3, alive("Mara"), author="human")
    on_record = BookOnRecord(INITIAL, OUTLINE, OUTLINE, deltas, on_record.files)
    found = predict(on_record, find_changes(on_record), {1: death(1, "Mara")}, {})
    assert found.revise == {}
    assert list(found.findings) == [3]


def test_what_the_book_already_contradicted_is_not_a_reason_to_revise() -> None:
    deltas = {**book().kept, 3: kept(3, alive("Mara", False))}
    on_record = BookOnRecord(INITIAL, OUTLINE, OUTLINE, deltas, book().files)
    known = known_contradictions(on_record)
    assert list(known) == [3]
    plan_ = predict(on_record, Changes({}, [], []), {}, known)
    assert plan_.empty
    [item] = [c for c in known[3]]
    assert item == conflict_key(
        next(iter(predict(on_record, Changes({}, [], []), {}, {}).revise[3]))
    )


def test_a_file_an_interrupted_sync_had_not_written_out_yet_is_no_edit() -> None:
    # The sync revised chapter 3 (a new kept attempt) and was killed before it wrote the
    # chapter files: the file still holds the text it found.
    on_record = book()
    found = {3: digest(text(3))}
    revised = on_record.kept[3].model_copy(
        update={"record": ChapterRecord(chapter=3, attempt=2, digest=digest("revised"))}
    )
    moved_on = BookOnRecord(
        INITIAL, OUTLINE, OUTLINE, {**on_record.kept, 3: revised}, on_record.files
    )
    assert find_changes(moved_on, found=found).empty
    edited = BookOnRecord(
        INITIAL, OUTLINE, OUTLINE, {**on_record.kept, 3: revised}, {**on_record.files, 3: "x"}
    )
    assert list(find_changes(edited, found=found).edited) == [3]
