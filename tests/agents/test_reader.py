"""The offline extractor reads what a chapter does from its text: its own prose exactly, an
author's by cue words, in English and in Chinese."""

from __future__ import annotations

import random
from typing import Any

import pytest

from agents.offline.planner import draft_outline
from agents.offline.reader import read_chapter
from agents.offline.writer import draft_chapter
from agents.planned import planned_changes
from agents.schemas import ChapterPlan, ExtractionBrief, ProjectBrief, WritingBrief
from state.models import StoryState
from tests.agents.conftest import make_brief


def _plan(pov: str, characters: list[str], setting: str) -> ChapterPlan:
    return ChapterPlan(
        number=3, title="A Night", pov=pov, setting=setting, characters=characters, beats=["b"]
    )


def _read(brief: ProjectBrief, text: str, plan: ChapterPlan) -> dict[tuple[str, str], Any]:
    report = read_chapter(
        ExtractionBrief(
            plan=plan,
            state=brief.initial,
            text=text,
            language=brief.language,
            places=brief.places(),
        )
    )
    return {(change.key, change.field): change.new for change in report.changes}


EN_PLAN = _plan("Mara Quell", ["Mara Quell", "Tobias Wren"], "the quay")
ZH_PLAN = _plan("林晚", ["林晚", "周默"], "码头")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The storm broke at midnight. Tobias Wren died on the quay, and nobody came.",
            {("characters/Tobias Wren", "alive"): False},
        ),
        (
            "Later, Mara went back to the lighthouse alone.",
            {("characters/Mara Quell", "location"): "the lighthouse"},
        ),
        (
            "Mara walked to the old customs shed, cursing.",
            {("characters/Mara Quell", "location"): "the old customs shed"},
        ),
        (
            "Somewhere in the surf Mara lost her father's brass key.",
            {("characters/Mara Quell", "inventory"): []},
        ),
        (
            "Mara gave the brass key to Tobias without a word.",
            {
                ("characters/Mara Quell", "inventory"): [],
                ("characters/Tobias Wren", "inventory"): ["a logbook", "a brass key"],
            },
        ),
        ("Tobias almost died. Mara did not lose the key.", {}),
    ],
)
def test_an_authors_english_sentences_are_read_by_their_cues(
    text: str, expected: dict[tuple[str, str], Any]
) -> None:
    assert _read(make_brief(), text, EN_PLAN) == expected


def test_a_cue_word_inside_a_known_places_name_is_not_a_cue() -> None:
    plan = _plan("Mara Quell", ["Mara Quell"], "the Drowned Anchor tavern")
    found = _read(make_brief(), "Mara Quell went to the Drowned Anchor tavern.", plan)
    assert found == {("characters/Mara Quell", "location"): "the Drowned Anchor tavern"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("那天夜里，周默死在了码头上。", {("characters/周默", "alive"): False}),
        ("林晚独自回到了灯塔。", {("characters/林晚", "location"): "灯塔"}),
        ("林晚弄丢了一把铜钥匙。", {("characters/林晚", "inventory"): []}),
        (
            "林晚把钥匙递给周默。",
            {
                ("characters/林晚", "inventory"): [],
                ("characters/周默", "inventory"): ["一本值班日志", "一把铜钥匙"],
            },
        ),
        ("周默差点死了。林晚没有死。", {}),
    ],
)
def test_an_authors_chinese_sentences_are_read_by_their_cues(
    text: str, expected: dict[tuple[str, str], Any]
) -> None:
    assert _read(make_brief(language="zh"), text, ZH_PLAN) == expected


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_offline_models_own_prose_reads_back_as_its_plan(language: str) -> None:
    """Without drift, what the reader finds in each chapter is what the plan changes."""
    brief = make_brief(chapters=16, language=language)
    outline = draft_outline(brief, random.Random(5))
    docs = brief.initial.model_copy(update={"foreshadowing": outline.ledger()}).documents()
    for plan in outline.chapters:
        state = StoryState.from_documents(docs)
        writing = WritingBrief(
            plan=plan, state=state, language=language, target_words=200, places=brief.places()
        )
        text = draft_chapter(writing, random.Random(plan.number), drift=0.0)
        report = read_chapter(
            ExtractionBrief(
                plan=plan, state=state, text=text, language=language, places=brief.places()
            )
        )
        found = {(c.key, c.field): c.new for c in report.changes}
        planned = {
            (key, field): new
            for key, field, new in planned_changes(plan, docs)
            if key.startswith("characters/") and field != "location"
        }
        reported = {kf: new for kf, new in found.items() if kf[1] != "location"}
        assert reported == {kf: new for kf, new in planned.items() if docs[kf[0]].get(kf[1]) != new}
        assert report.planted == plan.plants
        assert report.paid_off == plan.payoffs
        for key, field, new in planned_changes(plan, docs):
            docs.setdefault(key, {})[field] = new
