"""ChapterWriter: one chapter from its plan and the state as of it, with the StateDelta.

The chapter is asked for as plain prose, never inside JSON. A reply shorter
than ``LengthRule.min_ratio`` of the target, or cut at ``max_tokens``, is
continued from where it stops (the chapter so far, then a request to go on),
up to ``LengthRule.max_continuations`` times; a chapter still short is kept
and the continuity pass reports it. What happened in the finished text is then
read by the extractor (``agents.extractor``), and the delta built from its
report: the same way a chapter the author edited by hand is read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from agents.base import AgentSettings, BookAgent
from agents.clients.base import LLMClient, LLMRequest, LLMResponse, Message
from agents.context import ContextBudget, ContextBuilder, closing_paragraphs
from agents.errors import AgentFailedError
from agents.extractor import ChapterExtractor
from agents.planned import ledger, presence
from agents.prompts import PromptLibrary
from agents.render import bullets, render_changes
from agents.schemas import (
    ChapterDraft,
    ChapterJob,
    ChapterReport,
    ProjectBrief,
    WritingBrief,
)
from agents.text import prose
from agents.tokens import estimate_tokens
from agents.wordcount import count_words
from state.models import CHARACTERS, ChapterRecord, FieldChange, FieldRead, StateDelta

# What a chapter relies on about each character it names (its read set).
READ_FIELDS = ("alive", "location", "inventory", "knowledge")

# Separators between the system blocks and the message, and rounding, in tokens.
PROMPT_SLACK = 8

# A heading a model put above its prose ("# Chapter 3", "## The Long Night").
_HEADING = re.compile(r"\A\s*#{1,6}[^\n]*\n+")


# What a cut reply's continuation may start with that takes no space before it.
CONTINUING = frozenset(",.;:!?)'\"\u2019\u201d")


# The author of an attempt whose text the book's author wrote (kept byte for byte).
HUMAN_AUTHOR = "human"


@dataclass(frozen=True, slots=True)
class LengthRule:
    """How long a chapter must be: at least ``min_ratio`` of the target, after at most
    ``max_continuations`` replies that continue it."""

    min_ratio: float = 0.8
    max_continuations: int = 2

    def short(self, words: int, target: int) -> bool:
        """Whether ``words`` falls short of ``target`` by this rule."""
        return words < self.min_ratio * target


@dataclass(frozen=True, slots=True)
class Prose:
    """A chapter's text as the writer's replies left it."""

    text: str
    stop_reason: str | None
    continuations: int


class ChapterWriter(BookAgent):
    """Writes chapters of one book; every prompt stays within the context budget."""

    name = "writer"

    def __init__(
        self,
        client: LLMClient,
        prompts: PromptLibrary,
        brief: ProjectBrief,
        settings: AgentSettings,
        budget: ContextBudget | None = None,
        *,
        extractor: ChapterExtractor | None = None,
        length: LengthRule | None = None,
    ) -> None:
        super().__init__(client, prompts, brief, settings)
        self.context = ContextBuilder(prompts, brief.language, budget or ContextBudget())
        self.extractor = extractor or ChapterExtractor(client, prompts, brief, settings)
        self.length = length or LengthRule()

    async def write(self, job: ChapterJob) -> ChapterDraft:
        """The chapter ``job`` asks for; its delta's ``old`` values are what ``job.state`` says."""
        plan = job.plan
        instructions = self.instructions()
        values = self._plan_values(job)
        skeleton = self.prompts.render(
            "writer", self.language, **values, state="", recent="-", arcs="-"
        )
        bible = self.bible
        if job.book:  # the whole arc, in the cached block: the same for every writer
            lines = "\n".join(job.book)
            bible += "\n\n" + self.prompts.render("book_outline", self.language, lines=lines)
        context = self.context.build(
            bible=bible,
            state=job.state,
            summaries=job.summaries,
            chapter=plan.number,
            focus=plan.characters,
            threads=[*plan.plants, *plan.payoffs],
            arcs=job.arcs,
            reserved=estimate_tokens(instructions) + estimate_tokens(skeleton) + PROMPT_SLACK,
        )
        user = self.prompts.render(
            "writer",
            self.language,
            **values,
            state=context.state,
            recent=context.recent or "-",
            arcs=context.arcs or "-",
        )
        brief = WritingBrief(
            plan=plan,
            state=job.state,
            language=self.brief.language,
            target_words=self.brief.target_words,
            places=self.brief.places(),
            attempt=job.attempt,
            previous_summary=job.summaries.get(plan.number - 1, ""),
            notes=job.notes,
        )
        request = self.request(
            bible=context.bible,
            user=user,
            output=None,
            brief=brief,
            instructions=instructions,
        )
        written = await self.compose(request, brief)
        report = await self.extractor.extract(plan, job.state, written.text, job.attempt)
        return chapter_draft(
            job,
            written.text,
            report,
            language=self.language,
            author=self.name,
            prompt_tokens=estimate_tokens(request.prompt_text()),
            prose=written,
        )

    async def compose(self, request: LLMRequest, brief: WritingBrief) -> Prose:
        """The chapter's prose: a first reply, continued while it is short or was cut."""
        response = await self._first_reply(request)
        text = prose(_without_heading(response.text))
        stop, continued = response.stop_reason, 0
        target = self.brief.target_words
        while continued < self.length.max_continuations:
            have = count_words(text, self.language)
            cut = stop == "max_tokens"
            if not cut and not self.length.short(have, target):
                break
            ask = self.prompts.render(
                "continue_cut" if cut else "continue_short",
                self.language,
                have=have,
                target=target,
                missing=max(target - have, 1),
            )
            follow = replace(
                request.followed_by(Message("assistant", text), Message("user", ask)),
                brief=brief.model_copy(update={"so_far": text}),
            )
            reply = await self.client.complete(follow)
            more = prose(_without_heading(reply.text))
            continued += 1
            stop = reply.stop_reason
            if not more:
                break
            text = _joined(text, more, cut=cut, language=self.language)
        return Prose(text=text, stop_reason=stop, continuations=continued)

    async def _first_reply(self, request: LLMRequest) -> LLMResponse:
        """A reply with prose in it (an empty one is asked for again)."""
        tries = max(1, self.settings.attempts)
        for _ in range(tries):
            response = await self.client.complete(request)
            if response.text.strip():
                return response
        raise AgentFailedError(self.name, tries, ["the reply held no prose"])

    def _plan_values(self, job: ChapterJob) -> dict[str, object]:
        plan = job.plan
        ending = closing_paragraphs(job.previous_ending, self.context.budget.ending)
        if ending:
            ending = self.prompts.render(
                "writer_ending", self.language, number=plan.number - 1, text=ending
            )
        revision = ""
        if job.attempt > 1 or job.notes:
            revision = self.prompts.render(
                "writer_revision",
                self.language,
                attempt=job.attempt,
                notes=bullets(job.notes) or "-",
            )
        return {
            "number": plan.number,
            "total": self.brief.chapters,
            "title": plan.title,
            "pov": plan.pov,
            "setting": plan.setting,
            "characters": ", ".join(plan.characters),
            "beats": bullets(plan.beats),
            "changes": render_changes(plan.changes) or "-",
            "plants": ", ".join(plan.plants) or "-",
            "payoffs": ", ".join(plan.payoffs) or "-",
            "target_words": self.brief.target_words,
            "ending": ending,
            "revision": revision,
        }


def chapter_draft(
    job: ChapterJob,
    text: str,
    report: ChapterReport,
    *,
    language: str,
    author: str,
    prompt_tokens: int = 0,
    prose: Prose | None = None,
    reason: str | None = None,
) -> ChapterDraft:
    """The attempt ``job`` with ``text`` as its chapter and ``report`` as what happened in
    it: the record, the changes (``old`` values from the state it read) and the read set.
    ``author`` is who wrote it: the writer agent, or ``human`` for an author's own text,
    which is kept exactly as given. ``reason`` is why the attempt was made (by default:
    its revision notes, else that it is the first draft)."""
    words = count_words(text, language)
    record = ChapterRecord(
        chapter=job.plan.number,
        status="written" if job.attempt == 1 else "revised",
        attempt=job.attempt,
        title=job.plan.title,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        word_count=words,
        summary=report.summary,
        read_version=job.state.version,
        prompt_tokens=prompt_tokens,
        continuations=prose.continuations if prose else 0,
        stop_reason=prose.stop_reason if prose else None,
    )
    changes = delta_changes(job, report)
    delta = StateDelta(
        run_id=job.run_id,
        chapter=job.plan.number,
        attempt=job.attempt,
        author=author,
        reason=reason if reason is not None else _reason(job),
        changes=changes,
        reads=read_set(job, changes),
        record=record,
    )
    return ChapterDraft(
        chapter=job.plan.number,
        attempt=job.attempt,
        title=job.plan.title,
        text=text,
        summary=report.summary,
        word_count=words,
        delta=delta,
        prompt_tokens=prompt_tokens,
    )


def _reason(job: ChapterJob) -> str:
    """Why an attempt was written: its notes (a revision's), else a first or a retried draft."""
    if job.notes:
        return "; ".join(note.rstrip(".;\u3002\uff1b") for note in job.notes)
    return "first draft" if job.attempt == 1 else "written again"


def _without_heading(text: str) -> str:
    """The reply without a heading a model put above the prose."""
    return _HEADING.sub("", text, count=1)


def _joined(text: str, more: str, *, cut: bool, language: str) -> str:
    """``more`` after ``text``: a new paragraph after a finished reply; after a cut one,
    the same sentence carried on (a space between words, none in Chinese)."""
    if not cut:
        return f"{text}\n\n{more}"
    if language == "zh" or more[:1] in CONTINUING or text[-1:].isspace():
        return text + more
    return f"{text} {more}"


def delta_changes(job: ChapterJob, output: ChapterReport) -> list[FieldChange]:
    """What the chapter changed, with ``old`` values from the state it read.

    Characters on stage end the chapter at its setting unless the reply moves
    them: recording that (even when they were already there) makes their
    location part of what the chapter read, so an earlier chapter that moves
    them elsewhere invalidates this one.
    """
    docs = job.state.documents()
    moved = {c.character for c in output.changes if c.field == "location" and c.character}
    changes = [
        *presence(job.plan, docs, moved),
        *((c.key, c.field, c.new) for c in output.changes),
        *ledger(output.planted, output.paid_off, job.plan.number),
    ]
    return [
        FieldChange(key=key, field=field, old=docs.get(key, {}).get(field), new=new)
        for key, field, new in changes
    ]


def read_set(job: ChapterJob, changes: list[FieldChange]) -> list[FieldRead]:
    """What the chapter relied on about its cast without changing it.

    For every character the plan names: alive or dead, what they hold, what
    they know (where they are is already a change, see ``delta_changes``).
    If an earlier chapter's committed delta turns out to contradict one of
    these, this chapter has to be revised.
    """
    docs = job.state.documents()
    changed = {(c.key, c.field) for c in changes}
    reads = []
    for name in sorted(job.plan.named_characters()):
        key = f"{CHARACTERS}/{name}"
        doc = docs.get(key)
        if doc is None:
            continue
        reads += [
            FieldRead(key=key, field=field, value=doc.get(field))
            for field in READ_FIELDS
            if (key, field) not in changed
        ]
    return reads
