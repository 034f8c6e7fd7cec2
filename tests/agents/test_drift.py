from pathlib import Path
from typing import Any

import pytest

from agents.offline.client import OfflineClient
from agents.planned import planned_changes, planned_state
from agents.planner import Planner
from agents.prompts import PromptLibrary
from agents.schemas import ChapterDraft, ChapterJob, Outline, ProjectBrief
from agents.writer import ChapterWriter
from state import open_state
from state.models import StoryState
from tests.agents.conftest import OFFLINE, make_brief


def _end_values(draft: ChapterDraft) -> dict[tuple[str, str], Any]:
    return {(c.key, c.field): c.new for c in draft.delta.changes}


async def _deviation_rate(drift: float, prompts: PromptLibrary, chapters: int = 200) -> float:
    brief = make_brief(chapters=chapters, target_words=40)
    outline = await Planner(OfflineClient(seed=1), prompts, "en", OFFLINE).plan(brief)
    writer = ChapterWriter(OfflineClient(seed=9, drift=drift), prompts, brief, OFFLINE)
    docs = brief.initial.model_copy(update={"foreshadowing": outline.ledger()}).documents()
    deviated = 0
    for plan in outline.chapters:
        state = StoryState.from_documents(docs)
        draft = await writer.write(ChapterJob(plan=plan, state=state))
        planned = {(key, field): new for key, field, new in planned_changes(plan, docs)}
        deviated += _end_values(draft) != planned
        for key, field, new in planned_changes(plan, docs):
            docs.setdefault(key, {})[field] = new
    return deviated / chapters


@pytest.mark.parametrize(
    ("drift", "low", "high"), [(0.0, 0.0, 0.0), (0.25, 0.17, 0.33), (1.0, 1.0, 1.0)]
)
async def test_deltas_deviate_from_the_plan_at_the_configured_rate(
    drift: float, low: float, high: float, prompts: PromptLibrary
) -> None:
    assert low <= await _deviation_rate(drift, prompts) <= high


async def test_a_drifted_chapter_invalidates_a_later_chapter_that_read_the_plan(
    tmp_path: Path, prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    outline: Outline = await Planner(OfflineClient(seed=4), prompts, "en", OFFLINE).plan(brief)
    initial = brief.initial.model_copy(update={"foreshadowing": outline.ledger()})
    drifting = ChapterWriter(OfflineClient(seed=4, drift=1.0), prompts, brief, OFFLINE)
    faithful = ChapterWriter(OfflineClient(seed=4), prompts, brief, OFFLINE)

    first = await drifting.write(ChapterJob(plan=outline.chapter(1), state=initial))
    as_planned = await faithful.write(ChapterJob(plan=outline.chapter(1), state=initial))
    planned = {(k, f): n for k, f, n in planned_changes(outline.chapter(1), initial.documents())}
    (key, _), *_ = [kf for kf, new in _end_values(first).items() if planned.get(kf) != new]
    later = next(
        plan
        for plan in outline.chapters[1:]
        if (key, "location") in {(k, f) for k, f, _ in planned_changes(plan, {})}
    )
    second = await faithful.write(
        ChapterJob(plan=later, state=planned_state(initial, outline, later.number))
    )

    # The later chapter commits first (it was faster); then chapter 1 commits.
    invalidated = []
    for chapter_one in (as_planned, first):
        async with open_state(f"sqlite:///{tmp_path / f'{id(chapter_one)}.db'}") as store:
            await store.initialize(initial)
            await store.apply(second.delta)
            invalidated.append((await store.apply(chapter_one.delta)).invalidated_chapters)
    assert invalidated == [[], [later.number]]
