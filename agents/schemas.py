"""The agents' structured inputs and outputs: pydantic models at the LLM boundary.

Outputs a model produces: ``StoryBible`` (bible), ``Outline`` (planner),
``ChapterReport`` (extractor), ``ContinuityReport`` (editor); the writer's reply
is plain prose. Briefs the prompts are rendered from: ``BibleBrief``,
``ProjectBrief``, ``WritingBrief``, ``ExtractionBrief``, ``ReviewBrief``. What the
writer returns to the coordinator: ``ChapterDraft``, with a ``state.models.StateDelta``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from state.models import CHARACTERS, STORY_KINDS, Foreshadowing, StateDelta, StoryState

Language = Literal["en", "zh"]
FindingKind = Literal[
    "dead_character",
    "foreshadowing_unplanted",
    "foreshadowing_unpaid",
    "foreshadowing_order",
    "location",
    "knowledge",
    "short_chapter",
    "other",
]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlannedChange(_Schema):
    """A change a chapter is meant to cause, or reports it caused: one field, its new value."""

    key: str = Field(description="<kind>/<id>, e.g. characters/Mara or foreshadowing/the-key")
    field: str = Field(description="a top-level field of that document, e.g. location")
    new: Any = Field(default=None, description="the field's value at the end of the chapter")

    @field_validator("key")
    @classmethod
    def _two_part_key(cls, key: str) -> str:
        kind, _, ident = key.partition("/")
        if kind not in STORY_KINDS or not ident or "/" in ident:
            kinds = ", ".join(STORY_KINDS)
            raise ValueError(f"must be <kind>/<id> with kind one of {kinds}, got {key!r}")
        return key

    @field_validator("field")
    @classmethod
    def _plain_field(cls, field: str) -> str:
        if not field or "/" in field:
            raise ValueError(f"must be a top-level field name, got {field!r}")
        return field

    @property
    def character(self) -> str | None:
        """The character this change is about, if it is about one."""
        kind, _, ident = self.key.partition("/")
        return ident if kind == CHARACTERS else None


class ChapterPlan(_Schema):
    """What one chapter is meant to do."""

    number: int = Field(ge=1)
    title: str = Field(min_length=1)
    pov: str = Field(min_length=1, description="the point-of-view character")
    setting: str = Field(min_length=1, description="where the chapter takes place")
    characters: list[str] = Field(default_factory=list, description="on stage; pov included")
    beats: list[str] = Field(min_length=1)
    changes: list[PlannedChange] = Field(default_factory=list)
    plants: list[str] = Field(default_factory=list, description="foreshadowing ids planted")
    payoffs: list[str] = Field(default_factory=list, description="foreshadowing ids paid off")

    @model_validator(mode="after")
    def _pov_on_stage(self) -> Self:
        if self.pov not in self.characters:
            self.characters.insert(0, self.pov)
        return self

    def named_characters(self) -> set[str]:
        """Every character the plan names: on stage or changed."""
        changed = {c.character for c in self.changes if c.character is not None}
        return set(self.characters) | changed


class ThreadPlan(_Schema):
    """A foreshadowing thread's description (when and where come from the chapters)."""

    id: str = Field(min_length=1, pattern=r"^[^/]+$")
    description: str = ""


class Outline(_Schema):
    """The plan of the whole book."""

    title: str = ""
    chapters: list[ChapterPlan] = Field(min_length=1)
    threads: list[ThreadPlan] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = _numbering_problems(self.chapters) + _thread_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def chapter(self, number: int) -> ChapterPlan:
        """The plan of chapter ``number`` (1-based)."""
        return self.chapters[number - 1]

    def plant_chapters(self) -> dict[str, int]:
        """Thread id -> the chapter meant to plant it."""
        return {t: plan.number for plan in self.chapters for t in plan.plants}

    def payoff_chapters(self) -> dict[str, int]:
        """Thread id -> the chapter meant to pay it off."""
        return {t: plan.number for plan in self.chapters for t in plan.payoffs}

    def ledger(self) -> dict[str, Foreshadowing]:
        """The foreshadowing ledger before chapter 1: every thread planned, with its due chapter."""
        described = {thread.id: thread.description for thread in self.threads}
        due = self.payoff_chapters()
        return {
            ident: Foreshadowing(
                id=ident,
                description=described.get(ident) or humanize(ident),
                payoff_due=due.get(ident),
            )
            for ident in self.plant_chapters()
        }

    def problems_with(self, characters: Iterable[str], chapters: int) -> list[str]:
        """What does not fit the project: the chapter count, unknown characters."""
        known = set(characters)
        problems = []
        if len(self.chapters) != chapters:
            problems.append(f"expected {chapters} chapters, got {len(self.chapters)}")
        for plan in self.chapters:
            unknown = sorted(plan.named_characters() - known)
            if unknown:
                problems.append(f"chapter {plan.number} names unknown characters {unknown}")
        return problems


def _numbering_problems(chapters: list[ChapterPlan]) -> list[str]:
    for index, plan in enumerate(chapters, start=1):
        if plan.number != index:
            return [f"chapters must be numbered 1..{len(chapters)}; #{index} is {plan.number}"]
    return []


def _thread_problems(outline: Outline) -> list[str]:
    problems = []
    plants: dict[str, int] = {}
    for plan in outline.chapters:
        for ident in plan.plants:
            if ident in plants:
                problems.append(f"thread {ident!r} planted twice ({plants[ident]}, {plan.number})")
            plants[ident] = plan.number
    paid: set[str] = set()
    for plan in outline.chapters:
        for ident in plan.payoffs:
            planted = plants.get(ident)
            if planted is None or planted >= plan.number or ident in paid:
                problems.append(
                    f"chapter {plan.number} pays off thread {ident!r}, which must be planted "
                    "once in an earlier chapter and paid off once"
                )
            paid.add(ident)
    return problems


def humanize(ident: str) -> str:
    """``the-brass-key`` -> ``the brass key``."""
    return re.sub(r"[-_]+", " ", ident).strip()


class BibleBrief(_Schema):
    """What the bible agent is given: a project with a premise and no cast."""

    title: str
    premise: str
    genre: str = ""
    language: Language = "en"
    chapters: int = Field(ge=1)
    world: list[str] = Field(default_factory=list, description="notes the author gave")


class BibleState(_Schema):
    """A character's state before chapter 1, as the bible proposes it."""

    location: str = Field(min_length=1, description="where they are when the book opens")
    emotion: str = Field(default="", description="one word or a short phrase")
    inventory: list[str] = Field(default_factory=list, description="what they carry")
    knowledge: list[str] = Field(default_factory=list, description="what they know")
    relationships: dict[str, str] = Field(
        default_factory=dict, description="another character of the cast -> how this one sees them"
    )


class BibleCharacter(_Schema):
    """One member of the proposed cast."""

    name: str = Field(min_length=1, pattern=r"^[^/]+$", description="as the book spells it")
    role: str = Field(default="", description="e.g. protagonist, antagonist, mentor, ally")
    description: str = Field(default="", description="two or three sentences")
    initial: BibleState


class StoryBible(_Schema):
    """The bible agent's reply: the cast with their starting state, and world notes. The
    same rules as a hand-written cast: unique names, relationships only to the cast."""

    cast: list[BibleCharacter] = Field(min_length=2)
    world: list[str] = Field(default_factory=list, description="short notes on the world")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """Duplicate names, and relationships to someone not in the cast."""
        names = [character.name.strip() for character in self.cast]
        problems = [
            f"the name {n!r} is used twice" for n in sorted(set(names)) if names.count(n) > 1
        ]
        for character in self.cast:
            problems += [
                f"{character.name}'s relationships name {other!r}, who is not in the cast"
                for other in character.initial.relationships
                if other not in names
            ]
        return problems


class CharacterSheet(_Schema):
    """Who a character is (their changing state lives in the StoryState)."""

    name: str
    role: str = ""
    description: str = ""


class ProjectBrief(_Schema):
    """Everything about the book the planner needs; the writer's bible comes from it too."""

    title: str
    premise: str
    genre: str = ""
    language: Language = "en"
    chapters: int = Field(ge=1)
    target_words: int = Field(ge=1)
    world: list[str] = Field(default_factory=list)
    characters: list[CharacterSheet] = Field(min_length=1)
    initial: StoryState = Field(default_factory=StoryState)
    # The outline is the author's (the project file gives it): its chapter titles are kept,
    # whatever title a writer model answers with. Not in dumps: the planner's request (and
    # so the offline model's seed) is what it was.
    outline_given: bool = Field(default=False, exclude=True)

    def places(self) -> list[str]:
        """The distinct places the characters start in, in order of appearance."""
        places = (c.location for c in self.initial.characters.values() if c.location)
        return list(dict.fromkeys(places))


class WritingBrief(_Schema):
    """What one chapter's writer call is given, as data."""

    plan: ChapterPlan
    state: StoryState
    language: Language = "en"
    target_words: int = Field(ge=1)
    places: list[str] = Field(default_factory=list)
    attempt: int = Field(default=1, ge=1)
    previous_summary: str = ""
    notes: list[str] = Field(default_factory=list)
    so_far: str = Field(default="", description="a continuation: the chapter written so far")


class ArcBrief(_Schema):
    """What one arc summary is written from: the summaries of chapters ``first``..``last``."""

    first: int = Field(ge=1)
    last: int = Field(ge=1)
    summaries: dict[int, str]
    language: Language = "en"


class ChapterReport(_Schema):
    """The extractor's reply: what actually happened in a finished chapter's text."""

    summary: str = Field(
        min_length=1, description="two or three sentences: who did what, and where"
    )
    changes: list[PlannedChange] = Field(
        default_factory=list,
        description="state changes the text shows, with end-of-chapter values",
    )
    planted: list[str] = Field(
        default_factory=list, description="foreshadowing ids the text plants"
    )
    paid_off: list[str] = Field(
        default_factory=list, description="foreshadowing ids the text pays off"
    )


class ExtractionBrief(_Schema):
    """What one extractor call is given, as data: the chapter's text and what it read."""

    plan: ChapterPlan
    state: StoryState = Field(description="the state as of this chapter")
    text: str
    language: Language = "en"
    places: list[str] = Field(default_factory=list)
    attempt: int = Field(default=1, ge=1, description="the chapter attempt it reads")


class ChapterJob(_Schema):
    """One attempt at one chapter, as the coordinator hands it to a writer."""

    plan: ChapterPlan
    book: list[str] = Field(
        default_factory=list, description="the whole book's outline, a line a chapter"
    )
    previous_ending: str = Field(
        default="", description="how the chapter before ends, once it is final"
    )
    arcs: dict[int, str] = Field(
        default_factory=dict,
        description="model-written arc summaries of older chapters, by first chapter",
    )
    state: StoryState = Field(description="the state as of this chapter: what it reads")
    summaries: dict[int, str] = Field(default_factory=dict, description="earlier chapters")
    attempt: int = Field(default=1, ge=1)
    run_id: str = "default"
    notes: list[str] = Field(default_factory=list, description="why this attempt is a revision")


class ChapterDraft(_Schema):
    """A written chapter and the StateDelta of what happened in it."""

    chapter: int = Field(ge=1)
    attempt: int = Field(ge=1)
    title: str
    text: str
    summary: str
    word_count: int = Field(ge=0)
    delta: StateDelta
    prompt_tokens: int = Field(ge=0, description="estimated size of what the writer was given")


class ContinuityFinding(_Schema):
    """Something still inconsistent in the finished book."""

    chapter: int = Field(ge=1)
    kind: FindingKind
    subject: str = Field(default="", description="the character or thread concerned")
    detail: str = Field(min_length=1)


class ContinuityReport(_Schema):
    """The continuity editor model's reply."""

    findings: list[ContinuityFinding] = Field(default_factory=list)


class ReviewBrief(_Schema):
    """What the continuity editor is given, as data."""

    outline: Outline
    summaries: dict[int, str]
    state: StoryState
    language: Language = "en"
    known: list[ContinuityFinding] = Field(default_factory=list)
    deaths: dict[str, int] = Field(
        default_factory=dict, description="character -> the chapter the written story kills them in"
    )
