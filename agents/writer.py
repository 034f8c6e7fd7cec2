"""ChapterWriter: one chapter from its plan and the state as of it, with the StateDelta."""

from __future__ import annotations

import hashlib

from agents.base import Agent, AgentSettings
from agents.clients.base import LLMClient
from agents.context import ContextBudget, ContextBuilder
from agents.planned import ledger, presence
from agents.prompts import PromptLibrary
from agents.render import bullets, render_bible, render_changes
from agents.schemas import (
    ChapterDraft,
    ChapterJob,
    ChapterOutput,
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


class ChapterWriter(Agent):
    """Writes chapters of one book; every prompt stays within the context budget."""

    name = "writer"

    def __init__(
        self,
        client: LLMClient,
        prompts: PromptLibrary,
        brief: ProjectBrief,
        settings: AgentSettings,
        budget: ContextBudget | None = None,
    ) -> None:
        super().__init__(client, prompts, brief.language, settings)
        self.brief = brief
        self.bible = render_bible(prompts, brief)
        self.context = ContextBuilder(prompts, brief.language, budget or ContextBudget())

    async def write(self, job: ChapterJob) -> ChapterDraft:
        """The chapter ``job`` asks for; its delta's ``old`` values are what ``job.state`` says."""
        plan = job.plan
        instructions = self.instructions()
        values = self._plan_values(job)
        skeleton = self.prompts.render(
            "writer", self.language, **values, state="", recent="-", arcs="-"
        )
        context = self.context.build(
            bible=self.bible,
            state=job.state,
            summaries=job.summaries,
            chapter=plan.number,
            focus=plan.characters,
            threads=[*plan.plants, *plan.payoffs],
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
            output=ChapterOutput,
            brief=brief,
            instructions=instructions,
        )
        output = await self.ask(request, ChapterOutput, check=lambda out: _problems(job, out))
        return self._draft(job, output, estimate_tokens(request.prompt_text()))

    def _plan_values(self, job: ChapterJob) -> dict[str, object]:
        plan = job.plan
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
            "revision": revision,
        }

    def _draft(self, job: ChapterJob, output: ChapterOutput, prompt_tokens: int) -> ChapterDraft:
        if self.brief.outline_given:  # the author's titles, not the model's
            output = output.model_copy(update={"title": job.plan.title})
        # Kept as paragraphs joined by blank lines: the digest is of what the files hold.
        text = prose(output.text)
        words = count_words(text, self.language)
        record = ChapterRecord(
            chapter=job.plan.number,
            status="written" if job.attempt == 1 else "revised",
            attempt=job.attempt,
            title=output.title,
            digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            word_count=words,
            summary=output.summary,
            read_version=job.state.version,
            prompt_tokens=prompt_tokens,
        )
        changes = delta_changes(job, output)
        delta = StateDelta(
            run_id=job.run_id,
            chapter=job.plan.number,
            attempt=job.attempt,
            author=self.name,
            changes=changes,
            reads=read_set(job, changes),
            record=record,
        )
        return ChapterDraft(
            chapter=job.plan.number,
            attempt=job.attempt,
            title=output.title,
            text=text,
            summary=output.summary,
            word_count=words,
            delta=delta,
            prompt_tokens=prompt_tokens,
        )


def delta_changes(job: ChapterJob, output: ChapterOutput) -> list[FieldChange]:
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


def _problems(job: ChapterJob, output: ChapterOutput) -> list[str]:
    """A reply may only plant or pay off threads the plan or the ledger knows."""
    known = set(job.plan.plants) | set(job.plan.payoffs) | set(job.state.foreshadowing)
    unknown = sorted((set(output.planted) | set(output.paid_off)) - known)
    if unknown:
        return [f"planted/paid_off name unknown threads {unknown}; known: {sorted(known)}"]
    return []
