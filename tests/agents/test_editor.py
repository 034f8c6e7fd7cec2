import pytest

from agents.continuity import committed_deaths, merge_findings
from agents.editor import ContinuityEditor
from agents.offline.client import OfflineClient
from agents.planned import planned_state
from agents.planner import Planner
from agents.prompts import PromptLibrary
from agents.schemas import ContinuityFinding, Outline, ProjectBrief
from state.models import FieldChange, StoryState
from tests.agents.conftest import OFFLINE, make_brief

CHAPTERS = 12
Book = tuple[ProjectBrief, Outline, StoryState, dict[int, str]]


@pytest.fixture
async def book(prompts: PromptLibrary) -> Book:
    """A 12-chapter book written exactly to plan."""
    brief = make_brief(chapters=CHAPTERS)
    outline = await Planner(OfflineClient(seed=6), prompts, "en", OFFLINE).plan(brief)
    initial = brief.initial.model_copy(update={"foreshadowing": outline.ledger()})
    final = planned_state(initial, outline, CHAPTERS + 1)
    summaries = {p.number: f"At {p.setting}, {'; '.join(p.beats)}." for p in outline.chapters}
    return brief, outline, final, summaries


async def _review(
    prompts: PromptLibrary,
    brief: ProjectBrief,
    outline: Outline,
    final: StoryState,
    summaries: dict[int, str],
) -> list[ContinuityFinding]:
    editor = ContinuityEditor(OfflineClient(), prompts, brief, OFFLINE)
    return await editor.review(outline, summaries, final)


async def test_a_book_written_to_plan_is_consistent(book: Book, prompts: PromptLibrary) -> None:
    assert await _review(prompts, *book) == []


async def test_a_thread_never_paid_off_is_found_at_its_due_chapter(
    book: Book, prompts: PromptLibrary
) -> None:
    brief, outline, final, summaries = book
    ident, thread = next(iter(final.foreshadowing.items()))
    unpaid = thread.model_copy(update={"status": "planted", "paid_off_in": None})
    final = final.model_copy(update={"foreshadowing": {**final.foreshadowing, ident: unpaid}})
    findings = await _review(prompts, brief, outline, final, summaries)
    assert [(f.chapter, f.kind, f.subject) for f in findings] == [
        (thread.payoff_due, "foreshadowing_unpaid", ident)
    ]


async def test_a_thread_due_after_the_last_written_chapter_is_not_yet_owed(
    book: Book, prompts: PromptLibrary
) -> None:
    brief, outline, final, summaries = book
    ident, thread = next(iter(final.foreshadowing.items()))
    assert thread.payoff_due is not None
    unpaid = thread.model_copy(update={"status": "planted", "paid_off_in": None})
    final = final.model_copy(update={"foreshadowing": {**final.foreshadowing, ident: unpaid}})
    written = {n: s for n, s in summaries.items() if n < thread.payoff_due}
    assert await _review(prompts, brief, outline, final, written) == []


async def test_a_dead_character_acting_later_is_found(book: Book, prompts: PromptLibrary) -> None:
    brief, outline, final, summaries = book
    assert not final.characters["Aldous Crane"].alive
    summaries[CHAPTERS] += " Aldous Crane laughs at the quay."
    findings = await _review(prompts, brief, outline, final, summaries)
    assert [(f.chapter, f.kind, f.subject) for f in findings] == [
        (CHAPTERS, "dead_character", "Aldous Crane")
    ]
    assert "died in chapter 11" in findings[0].detail


async def test_a_dead_character_on_stage_in_the_outline_is_found_once(
    book: Book, prompts: PromptLibrary
) -> None:
    brief, outline, final, summaries = book
    last = outline.chapter(CHAPTERS)
    chapters = [
        *outline.chapters[:-1],
        last.model_copy(update={"characters": [*last.characters, "Aldous Crane"]}),
    ]
    outline = outline.model_copy(update={"chapters": chapters})
    summaries[CHAPTERS] += " Aldous Crane watches."
    findings = await _review(prompts, brief, outline, final, summaries)
    assert [(f.chapter, f.kind) for f in findings] == [(CHAPTERS, "dead_character")]


async def test_a_death_the_outline_did_not_plan_is_found_where_the_story_has_it(
    book: Book, prompts: PromptLibrary
) -> None:
    brief, outline, final, summaries = book
    name = "Mara Quell"
    later = [n for n in range(4, CHAPTERS + 1) if name in summaries[n]]
    assert final.characters[name].alive
    assert later
    dead = final.characters[name].model_copy(update={"alive": False})
    final = final.model_copy(update={"characters": {**final.characters, name: dead}})
    editor = ContinuityEditor(OfflineClient(), prompts, brief, OFFLINE)
    # Told only the outline, the editor cannot know when she died; told the story, it can.
    assert await editor.review(outline, summaries, final) == []
    findings = await editor.review(outline, summaries, final, deaths={name: 3})
    assert [(f.chapter, f.kind, f.subject) for f in findings] == [
        (n, "dead_character", name) for n in later
    ]


def test_committed_deaths_are_the_first_chapter_that_kills() -> None:
    def dies(who: str) -> FieldChange:
        return FieldChange(key=f"characters/{who}", field="alive", old=True, new=False)

    moved = FieldChange(key="characters/Ana", field="location", old="pier", new="inn")
    changes = {5: [dies("Ana")], 2: [moved, dies("Ana")], 3: [dies("Ben")], 4: [moved]}
    assert committed_deaths(changes) == {"Ana": 2, "Ben": 3}


def test_findings_merge_in_chapter_order_without_duplicates() -> None:
    a = ContinuityFinding(chapter=5, kind="location", subject="Mara", detail="one")
    b = ContinuityFinding(chapter=2, kind="other", detail="two")
    again = a.model_copy(update={"detail": "the same, said differently"})
    assert merge_findings([a], [b, again]) == [b, a]


async def test_a_chinese_book_reviews_too(prompts: PromptLibrary) -> None:
    brief = make_brief(chapters=8, language="zh")
    outline = await Planner(OfflineClient(seed=6), prompts, "zh", OFFLINE).plan(brief)
    initial = brief.initial.model_copy(update={"foreshadowing": outline.ledger()})
    final = planned_state(initial, outline, 9)
    summaries = {p.number: " ".join(p.beats) for p in outline.chapters}
    assert await _review(prompts, brief, outline, final, summaries) == []
