import asyncio

import pytest

from agents.context import ContextBudget, ContextBuilder
from agents.offline.client import OfflineClient
from agents.planned import planned_state
from agents.planner import Planner
from agents.prompts import PromptLibrary
from agents.schemas import ChapterJob, Outline, ProjectBrief
from agents.tokens import estimate_tokens, truncate_to_tokens
from agents.writer import ChapterWriter
from state.models import StoryState
from tests.agents.conftest import OFFLINE, make_brief

CHAPTERS = 300


@pytest.fixture(scope="module")
def serial() -> tuple[ProjectBrief, Outline, StoryState, dict[int, str]]:
    """A 300-chapter serial planned offline, with a summary for every chapter."""
    brief = make_brief(chapters=CHAPTERS, target_words=60)
    planner = Planner(OfflineClient(seed=2), PromptLibrary(), "en", OFFLINE)
    outline = asyncio.run(planner.plan(brief))
    initial = brief.initial.model_copy(update={"foreshadowing": outline.ledger()})
    summaries = {
        plan.number: f"At {plan.setting}, {'; '.join(plan.beats)}. " * 2
        for plan in outline.chapters
    }
    return brief, outline, initial, summaries


@pytest.mark.parametrize("budget", [3000, 8000])
async def test_the_prompt_of_chapter_300_stays_within_the_budget(
    serial: tuple[ProjectBrief, Outline, StoryState, dict[int, str]],
    prompts: PromptLibrary,
    budget: int,
) -> None:
    brief, outline, initial, summaries = serial
    writer = ChapterWriter(OfflineClient(), prompts, brief, OFFLINE, ContextBudget(total=budget))
    sizes = []
    for number in (10, 100, CHAPTERS):
        job = ChapterJob(
            plan=outline.chapter(number),
            state=planned_state(initial, outline, number),
            summaries={n: s for n, s in summaries.items() if n < number},
        )
        sizes.append((await writer.write(job)).prompt_tokens)
    assert max(sizes) <= budget


def test_recent_chapters_are_whole_and_older_ones_are_arcs(
    serial: tuple[ProjectBrief, Outline, StoryState, dict[int, str]], prompts: PromptLibrary
) -> None:
    _, outline, initial, summaries = serial
    builder = ContextBuilder(prompts, "en", ContextBudget(total=8000, recent=3))
    context = builder.build(
        bible="A bible.",
        state=planned_state(initial, outline, CHAPTERS),
        summaries=summaries,
        chapter=CHAPTERS,
        focus=outline.chapter(CHAPTERS).characters,
    )
    for number in (297, 298, 299):
        assert f"Chapter {number}: {summaries[number].strip()}" in context.recent
    assert "Chapter 296:" not in context.recent
    assert context.arcs.startswith("Chapters 1\u2013")
    assert "296" in context.arcs
    assert context.tokens <= 8000


def test_huge_summaries_and_a_huge_bible_are_cut_to_fit(prompts: PromptLibrary) -> None:
    brief = make_brief(chapters=CHAPTERS)
    summaries = {n: f"Chapter {n} happened. " + "word " * 2000 for n in range(1, CHAPTERS)}
    builder = ContextBuilder(prompts, "en", ContextBudget(total=2000))
    context = builder.build(
        bible="lore " * 50_000,
        state=brief.initial,
        summaries=summaries,
        chapter=CHAPTERS,
        reserved=500,
    )
    assert context.tokens <= 1500
    assert context.bible.endswith("…")


def test_token_estimates_and_truncation() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 10) == 10
    assert estimate_tokens("港口的灯") == 4
    cut = truncate_to_tokens("港口的灯火 and the harbour lights " * 100, 50)
    assert estimate_tokens(cut) <= 50
    assert cut.endswith("…")
    assert truncate_to_tokens("short", 10) == "short"


def test_the_bible_is_cut_the_same_for_every_chapter(prompts: PromptLibrary) -> None:
    """The bible is the cached prefix: a cut that followed each chapter's prompt would make
    every chapter write its own cache entry."""
    brief = make_brief(chapters=CHAPTERS)
    builder = ContextBuilder(prompts, "en", ContextBudget(total=8000))
    cuts = {
        builder.build(
            bible="lore " * 20_000, state=brief.initial, summaries={}, chapter=2, reserved=reserved
        ).bible
        for reserved in (600, 900, 1400)
    }
    assert len(cuts) == 1
