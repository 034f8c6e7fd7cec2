"""The coordinator: plan, write every chapter with up to ``workers`` writers, keep continuity.

One coroutine owns the bookkeeping (the schedule and the continuity
frontier); writers run as tasks, each doing one chapter attempt: write the
chapter, make its draft durable, commit its StateDelta. When a task ends the
coordinator advances the frontier, queues revisions, and starts more writers.
Nothing but this coroutine touches the bookkeeping, so there are no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from agents.base import AgentSettings
from agents.context import ContextBudget
from agents.editor import ContinuityEditor
from agents.errors import AgentFailedError, ModelCallError
from agents.planner import Planner
from agents.prompts import PromptLibrary
from agents.schemas import ChapterDraft, ChapterJob, ContinuityFinding, Outline, ProjectBrief
from agents.writer import ChapterWriter
from orchestrator.book import BookChapter, chapter_markdown
from orchestrator.chapter_leases import ChapterLeases
from orchestrator.contradictions import revision_notes, unresolved_findings
from orchestrator.frontier import StoryFrontier
from orchestrator.metered_client import MeteredClient
from orchestrator.restore import RestoredChapter
from orchestrator.run_folder import RunFolder
from orchestrator.schedule import ChapterSlot, Mode, Schedule
from orchestrator.spending import SpendingLimit
from state import ChapterRecord, LeaseLostError, StateManager, StoryState

log = structlog.get_logger("orchestrator.run")

# (event name, fields): what the progress display and --json see.
Observer = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class AgentModels:
    """Each agent's settings; the planner, writer and editor may use different models."""

    planner: AgentSettings
    writer: AgentSettings
    editor: AgentSettings


@dataclass(frozen=True, slots=True)
class Scheduling:
    """How chapters are scheduled (the ``orchestrator`` section of the config)."""

    workers: int = 20
    mode: Mode = "parallel"
    window: int | None = None
    max_attempts: int = 3
    lease_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Committed:
    draft: ChapterDraft


@dataclass(frozen=True, slots=True)
class Failed:
    error: str


class Coordinator:
    """Runs one book through planning, writing with revisions, and the continuity pass."""

    def __init__(
        self,
        *,
        run_id: str,
        brief: ProjectBrief,
        client: MeteredClient,
        manager: StateManager,
        folder: RunFolder,
        models: AgentModels,
        scheduling: Scheduling,
        budget: ContextBudget,
        observer: Observer,
        prompts: PromptLibrary | None = None,
        spending: SpendingLimit | None = None,
    ) -> None:
        self.run_id = run_id
        self.client = client
        self.brief = brief
        self.manager = manager
        self.folder = folder
        self.scheduling = scheduling
        self.prompts = prompts or PromptLibrary()
        self.planner = Planner(client, self.prompts, brief.language, models.planner)
        self.writer = ChapterWriter(client, self.prompts, brief, models.writer, budget)
        self.editor = ContinuityEditor(client, self.prompts, brief, models.editor)
        self._observe = observer
        self.spending = spending or SpendingLimit()
        self._leases: ChapterLeases | None = None

    def emit(self, event: str, **fields: Any) -> None:
        """Tell the log and the display what happened."""
        log.info(event, **fields)
        self._observe(event, fields)

    # -- planning ----------------------------------------------------------------------

    async def plan(self, given: Outline | None) -> Outline:
        """The config's outline if it gives one, else the planner's."""
        self.emit("planning", source="config" if given else "planner")
        outline = given or await self.planner.plan(self.brief)
        self.emit("planned", chapters=len(outline.chapters), threads=len(outline.threads))
        return outline

    # -- writing -----------------------------------------------------------------------

    async def write_book(
        self,
        outline: Outline,
        initial: StoryState,
        restored: Mapping[int, RestoredChapter] | None = None,
    ) -> Schedule:
        """Every chapter written, committed and validated (or failed); the final schedule.

        ``restored`` chapters (a resumed run) keep their committed attempt; they
        are validated like any other, and the rest are written.
        """
        s = self.scheduling
        schedule = Schedule(len(outline.chapters), s.mode, s.window, s.workers)
        frontier = StoryFrontier(initial, outline)
        for chapter in (restored or {}).values():
            schedule.restore(chapter.number, chapter.tries, chapter.kept)
            if chapter.kept is not None:
                frontier.committed(chapter.number, chapter.kept.delta.changes)
        self._advance(schedule, frontier)
        running: dict[asyncio.Task[Committed | Failed], int] = {}
        async with ChapterLeases(self.manager, s.lease_s, self.emit) as self._leases:
            try:
                await self._write_all(outline, schedule, frontier, running)
            finally:
                await _cancel(running)
        return schedule

    async def _write_all(
        self,
        outline: Outline,
        schedule: Schedule,
        frontier: StoryFrontier,
        running: dict[asyncio.Task[Committed | Failed], int],
    ) -> None:
        while not frontier.done:
            room = self.spending.room(len(running))
            for number in schedule.take(frontier.next, len(running), room):
                job = self._job(outline, schedule, frontier, number)
                running[asyncio.create_task(self._attempt(job))] = number
            if not running:
                if not self._stop_spending(schedule):
                    raise RuntimeError(f"nothing to run before chapter {frontier.next} is final")
                self._advance(schedule, frontier)
                continue
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=running.__getitem__):
                number = running.pop(task)
                await self._settle(schedule.slots[number], task.result(), frontier)
            self._advance(schedule, frontier)

    def _job(
        self, outline: Outline, schedule: Schedule, frontier: StoryFrontier, number: int
    ) -> ChapterJob:
        slot = schedule.slots[number]
        slot.status = "writing"
        slot.tries += 1
        summaries = {
            n: other.kept.summary
            for n, other in schedule.slots.items()
            if n < number and other.kept is not None
        }
        self.emit("chapter_started", chapter=number, attempt=slot.tries)
        return ChapterJob(
            plan=outline.chapter(number),
            # The version is the number of final chapters: the same reads give the same
            # job, whatever order concurrent commits happened in.
            state=frontier.state_for(number, version=frontier.next - 1),
            summaries=summaries,
            attempt=slot.tries,
            run_id=self.run_id,
            notes=slot.notes,
        )

    async def _attempt(self, job: ChapterJob) -> Committed | Failed:
        """One attempt under the chapter's lease: write, make the draft durable, then
        commit its delta (fenced by the lease, which the commit releases)."""
        assert self._leases is not None
        number = job.plan.number
        lease = await self._leases.claim(number)
        try:
            draft = await self.writer.write(job)
            text = chapter_markdown(
                BookChapter(draft.chapter, draft.title, draft.text), self.brief.language
            )
            path = self.folder.draft_path(draft.chapter, draft.attempt)
            await asyncio.to_thread(self.folder.write_text, path, text)
            # Conflicts are the frontier's to judge (in chapter order), not apply's result.
            await self.manager.apply(draft.delta, lease=lease)
        except LeaseLostError as exc:
            self._leases.committed(number)  # not ours to release any more
            return Failed(str(exc))
        except (AgentFailedError, ModelCallError) as exc:
            await self._leases.release(number)
            return Failed(str(exc))
        except BaseException:
            # Cancelled (the run is stopping) or a write failed: give the chapter up if the
            # store still takes writes; if not, the lease is stale once this process ends.
            with contextlib.suppress(Exception):
                await self._leases.release(number)
            raise
        self._leases.committed(number)
        return Committed(draft)

    async def _settle(
        self, slot: ChapterSlot, outcome: Committed | Failed, frontier: StoryFrontier
    ) -> None:
        if isinstance(outcome, Committed):
            slot.kept = outcome.draft
            slot.status = "committed"
            frontier.committed(slot.number, outcome.draft.delta.changes)
            self.emit(
                "chapter_committed",
                chapter=slot.number,
                attempt=outcome.draft.attempt,
                words=outcome.draft.word_count,
                prompt_tokens=outcome.draft.prompt_tokens,
            )
            return
        slot.error = outcome.error
        if slot.kept is not None:  # a revision failed: the earlier attempt stands
            slot.status, slot.exhausted = "committed", True
        else:
            slot.status = "failed"
            await self.manager.put_chapter(
                ChapterRecord(
                    chapter=slot.number, status="failed", attempt=slot.tries, error=outcome.error
                )
            )
        self.emit("chapter_failed", chapter=slot.number, attempt=slot.tries, error=outcome.error)

    def _stop_spending(self, schedule: Schedule) -> bool:
        """Nothing runs and the budget lets nothing start: the waiting chapters are not written
        (a revision waiting is not made: the kept attempt stands, its contradictions become
        findings). False when nothing was waiting."""
        waiting = schedule.drain()
        if not waiting:
            return False
        unwritten = [n for n in waiting if schedule.slots[n].kept is None]
        reason = self.spending.stop(unwritten)
        for number in waiting:
            slot = schedule.slots[number]
            if slot.kept is not None:
                slot.status, slot.exhausted = "committed", True
            else:
                slot.status, slot.error = "failed", f"not started: {reason}"
        revisions = [n for n in waiting if n not in unwritten]
        self.emit("budget_stopped", chapters=unwritten, revisions=revisions, reason=reason)
        return True

    def _advance(self, schedule: Schedule, frontier: StoryFrontier) -> None:
        """Make chapters final in order; queue a revision where reads no longer hold."""
        while not frontier.done:
            slot = schedule.slots[frontier.next]
            if slot.status == "failed":
                frontier.finalize()
                continue
            if slot.status != "committed" or slot.kept is None:
                return
            found = frontier.contradictions(slot.kept.delta)
            if found and slot.tries < self.scheduling.max_attempts and not slot.exhausted:
                slot.notes = revision_notes(found, self.prompts, self.brief.language)
                schedule.queue(slot.number)
                self.emit("chapter_revision", chapter=slot.number, reasons=slot.notes)
                return
            slot.unresolved = found
            slot.status = "final"
            frontier.finalize()
            self.emit("chapter_final", chapter=slot.number, unresolved=len(found))

    # -- continuity pass -----------------------------------------------------------------

    async def review(self, outline: Outline, schedule: Schedule) -> list[ContinuityFinding]:
        """The continuity editor's findings plus contradictions no attempt resolved."""
        summaries = {n: s.kept.summary for n, s in schedule.slots.items() if s.kept is not None}
        unresolved = [
            finding
            for slot in schedule.slots.values()
            for finding in unresolved_findings(slot.number, slot.unresolved)
        ]
        self.emit("reviewing", unresolved=len(unresolved))
        try:
            found = await self.editor.review(outline, summaries, await self.manager.snapshot())
        except (AgentFailedError, ModelCallError) as exc:
            log.warning("continuity_editor_failed", error=str(exc))
            found = [ContinuityFinding(chapter=1, kind="other", detail=f"not reviewed: {exc}")]
        findings = sorted([*found, *unresolved], key=lambda f: (f.chapter, f.kind, f.subject))
        self.emit("reviewed", findings=len(findings))
        return findings


async def _cancel(running: dict[asyncio.Task[Committed | Failed], int]) -> None:
    """Stop writers still in flight (only when the run is failing)."""
    for task in running:
        task.cancel()
    if running:
        await asyncio.gather(*running, return_exceptions=True)
