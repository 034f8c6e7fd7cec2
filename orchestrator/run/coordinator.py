"""The coordinator: plan, write every chapter with up to ``workers`` writers, keep continuity.

One coroutine owns the bookkeeping (the schedule and the continuity
frontier). Every chapter attempt it starts goes on the job board in the store
(``orchestrator.board.jobs``); its own writers run as tasks, each taking one
job: write the chapter, make its draft durable, commit its StateDelta. Jobs
its writers cannot take (more are open than it has writers, or a writer in
another process holds one) are left to workers that joined the run
(``orchestrator worker``), and their outcomes are read from the store every
``poll_seconds``. When an attempt ends the coordinator advances the frontier,
queues revisions, and starts more. Nothing but this coroutine touches the
bookkeeping, so there are no locks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from agents.arcs import ArcWriter
from agents.base import AgentSettings
from agents.clients.metered import MeteredClient
from agents.context import ContextBudget, closing_paragraphs
from agents.continuity import committed_deaths
from agents.editor import ContinuityEditor
from agents.errors import AgentFailedError, ModelCallError
from agents.extractor import ChapterExtractor
from agents.planner import Planner
from agents.prompts import PromptLibrary
from agents.render import book_lines
from agents.schemas import ChapterDraft, ChapterJob, ContinuityFinding, Outline, ProjectBrief
from agents.writer import HUMAN_AUTHOR, ChapterWriter, LengthRule
from orchestrator.artifacts.book import BookChapter, chapter_markdown
from orchestrator.artifacts.folder import RunFolder
from orchestrator.board.attempt import Committed, Failed, Lost, write_attempt
from orchestrator.board.jobs import HEARTBEAT_S, JobBoard, Outcome, chapter_lease_name
from orchestrator.board.leases import ChapterLeases
from orchestrator.project.config import OrchestratorSection
from orchestrator.run.arcs import ArcKeeper
from orchestrator.run.contradictions import RevisionRule, unresolved_findings
from orchestrator.run.frontier import StoryFrontier
from orchestrator.run.restore import RestoredChapter
from orchestrator.run.schedule import ChapterSlot, Schedule
from orchestrator.run.spending import SpendingLimit
from state import ChapterRecord, Lease, StateManager, StoryState

log = structlog.get_logger("orchestrator.run.novel")

# The most of a writer's context budget the book's outline may take (in its cached block).
BOOK_SHARE = 0.15

# (event name, fields): what the progress display and --json see.
Observer = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class AgentsSettings:
    """Each agent's settings (each may use another model), and how long chapters must be."""

    planner: AgentSettings
    writer: AgentSettings
    extractor: AgentSettings
    editor: AgentSettings
    length: LengthRule = field(default_factory=LengthRule)
    summarizer: AgentSettings | None = None  # None: arcs of older chapters are extractive


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """Another writer has the job (its live lease), or has finished it (None)."""

    holder: Lease | None


@dataclass
class Flight:
    """A chapter attempt on the board: written here (``task``), by a writer elsewhere,
    or waiting for a writer."""

    job: ChapterJob
    task: asyncio.Task[Committed | Failed | Elsewhere] | None = None
    elsewhere: bool = False

    @property
    def chapter(self) -> int:
        return self.job.plan.number


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
        models: AgentsSettings,
        scheduling: OrchestratorSection,
        budget: ContextBudget,
        observer: Observer,
        prompts: PromptLibrary | None = None,
        spending: SpendingLimit | None = None,
        rule: RevisionRule | None = None,
    ) -> None:
        self.run_id = run_id
        self.client = client
        self.brief = brief
        self.manager = manager
        self.folder = folder
        self.scheduling = scheduling
        self.prompts = prompts or PromptLibrary()
        self.planner = Planner(client, self.prompts, brief.language, models.planner)
        extractor = ChapterExtractor(client, self.prompts, brief, models.extractor)
        self.writer = ChapterWriter(
            client,
            self.prompts,
            brief,
            models.writer,
            budget,
            extractor=extractor,
            length=models.length,
        )
        self.editor = ContinuityEditor(client, self.prompts, brief, models.editor)
        self.rule = rule or RevisionRule(self.prompts, brief.language)
        self.arcs = (
            None
            if models.summarizer is None
            else ArcKeeper(
                ArcWriter(client, self.prompts, brief.language, models.summarizer),
                manager,
                budget.arc_size,
                budget.arc_tokens,
                self.emit,
            )
        )
        self._observe = observer
        self.spending = spending or SpendingLimit()
        self.board = JobBoard(manager)
        self._leases: ChapterLeases | None = None
        self._joined = 0  # writers of the workers that joined the run
        self._waited: set[int] = set()  # chapters already reported as written elsewhere
        self.budget = budget
        self._book: tuple[Outline, list[str]] | None = None

    def emit(self, event: str, **fields: Any) -> None:
        """Tell the log and the display what happened."""
        log.info(event, **fields)
        self._observe(event, fields)

    # -- planning ----------------------------------------------------------------------

    async def plan(self, given: Outline | None) -> Outline:
        """The config's outline if it gives one, else the planner's."""
        self.emit("planning", source="config" if given else "planner")
        outline = given or await self.planner.plan(self.brief)
        # The threads tracked (the ledger): every one planted, listed in threads or not.
        self.emit("planned", chapters=len(outline.chapters), threads=len(outline.ledger()))
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
        are validated like any other, and the rest are written. Chapters the rule
        rewrites (``RevisionRule.rewrite``: a sync's changed plans) are queued at once with
        their notes; their kept attempt stands until the new one commits (or if it fails).
        """
        s = self.scheduling
        schedule = Schedule(len(outline.chapters), s.mode, s.window, s.workers)
        frontier = StoryFrontier(initial, outline)
        rewrite = self.rule.rewrite
        if self.arcs is not None:
            await self.arcs.load()
        for chapter in (restored or {}).values():
            schedule.restore(chapter.number, chapter.tries, chapter.kept, fresh=self.rule.fresh)
            if chapter.kept is not None:
                frontier.committed(chapter.number, chapter.kept.delta.changes)
            if chapter.number in rewrite:
                schedule.slots[chapter.number].notes = list(rewrite[chapter.number])
                schedule.queue(chapter.number)
        self._advance(schedule, frontier)
        flights: dict[int, Flight] = {}
        async with ChapterLeases(self.manager, s.lease_seconds, self.emit) as self._leases:
            try:
                await self._write_all(outline, schedule, frontier, flights)
            finally:
                await _cancel(flights)
        if self.arcs is not None:
            await self.arcs.settle()
        await self.board.close_run()
        return schedule

    async def _write_all(
        self,
        outline: Outline,
        schedule: Schedule,
        frontier: StoryFrontier,
        flights: dict[int, Flight],
    ) -> None:
        s = self.scheduling
        next_poll = 0.0
        while not frontier.done:
            schedule.workers = s.workers + self._joined
            room = self.spending.room(len(flights))
            jobs = [
                self._job(outline, schedule, frontier, number)
                for number in schedule.take(frontier.next, len(flights), room)
            ]
            flights.update((job.plan.number, Flight(job)) for job in jobs)
            await self._start_writers(jobs, flights)
            if not flights:
                if schedule.workers == 0:  # nobody to write: wait for a worker to join
                    self._say_once(0, "waiting_for_workers", chapter=frontier.next)
                    await asyncio.sleep(s.poll_seconds)
                    next_poll = 0.0
                elif not self._stop_spending(schedule):
                    raise RuntimeError(f"nothing to run before chapter {frontier.next} is final")
                else:
                    self._advance(schedule, frontier)
                    continue
            tasks = [f.task for f in flights.values() if f.task is not None]
            wait_s = max(0.0, next_poll - time.monotonic())
            if tasks:
                done, _ = await asyncio.wait(
                    tasks, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED
                )
            else:
                done = set()
                await asyncio.sleep(wait_s)
            for flight in sorted(flights.values(), key=lambda f: f.chapter):
                if flight.task is not None and flight.task in done:
                    await self._finished_here(schedule, frontier, flights, flight)
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + s.poll_seconds
                await self._poll(schedule, frontier, flights)
            self._advance(schedule, frontier)

    async def _start_writers(self, jobs: list[ChapterJob], flights: dict[int, Flight]) -> None:
        """Publish ``jobs`` and give this process's free writers the lowest jobs nobody
        else is writing, claimed in the same transaction."""
        assert self._leases is not None
        free = self.scheduling.workers - sum(f.task is not None for f in flights.values())
        picks = [
            flights[n]
            for n in sorted(flights)
            if flights[n].task is None and not flights[n].elsewhere
        ][: max(free, 0)]
        wanted = [(f.chapter, f.job.attempt) for f in picks]
        claims = await self._leases.publish_and_take(self.board, jobs, wanted)
        for flight in picks:
            claim = claims[flight.chapter]
            if claim.lease is None:
                self._elsewhere(flight, claim.other)
            else:
                flight.task = asyncio.create_task(self._attempt(flight.job, claim.lease))

    def _elsewhere(self, flight: Flight, holder: Lease | None) -> None:
        """Another writer has the flight's job (or had it, and its outcome is coming)."""
        flight.elsewhere = True
        who = holder.holder.label() if holder else None
        self._say_once(flight.chapter, "lease_wait", chapter=flight.chapter, holder=who)

    async def _finished_here(
        self,
        schedule: Schedule,
        frontier: StoryFrontier,
        flights: dict[int, Flight],
        flight: Flight,
    ) -> None:
        assert flight.task is not None
        outcome = flight.task.result()
        flight.task = None
        if isinstance(outcome, Elsewhere):
            self._elsewhere(flight, outcome.holder)
            return
        del flights[flight.chapter]
        await self._settle(schedule.slots[flight.chapter], outcome, frontier)

    async def _poll(
        self, schedule: Schedule, frontier: StoryFrontier, flights: dict[int, Flight]
    ) -> None:
        """Joined workers, and the outcomes of the jobs this process is not writing."""
        self._joined = await self.board.joined_writers(max_age_s=3 * HEARTBEAT_S)
        watched = {n: f for n, f in flights.items() if f.task is None}
        if not watched:
            return
        found = await self.board.outcomes((n, f.job.attempt) for n, f in watched.items())
        for (number, _), outcome in sorted(found.items()):
            del flights[number]
            del watched[number]
            await self._settle(schedule.slots[number], await self._taken_in(outcome), frontier)
        stranded = [n for n, f in watched.items() if f.elsewhere]
        if not stranded:
            return
        leases = {lease.name: lease for lease in await self.manager.leases()}
        for number in stranded:
            lease = leases.get(chapter_lease_name(number))
            if lease is None or lease.stale():
                # Its writer died (or finished, and the outcome is read next round): the
                # job is ours to take again; the claim takes a stale lease over.
                flights[number].elsewhere = False
                await self.board.republish(flights[number].job)

    async def _taken_in(self, outcome: Outcome) -> Committed | Failed:
        """An outcome a writer in another process left: its calls counted, its draft kept
        in the run folder like one written here."""
        self.client.add_remote_calls(outcome.calls, outcome.writer)
        if outcome.error is not None:
            return Failed(f"{outcome.error} ({outcome.writer})")
        draft = outcome.draft
        if draft is None:
            return Failed(f"the outcome of attempt {outcome.attempt} has no draft")
        await asyncio.to_thread(self._keep_draft, draft)
        self.emit(
            "chapter_written_elsewhere",
            chapter=draft.chapter,
            attempt=draft.attempt,
            writer=outcome.writer,
        )
        return Committed(draft)

    def _keep_draft(self, draft: ChapterDraft) -> None:
        text = chapter_markdown(
            BookChapter(draft.chapter, draft.title, draft.text), self.brief.language
        )
        self.folder.write_text(self.folder.draft_path(draft.chapter, draft.attempt), text)

    def _say_once(self, key: int, event: str, **fields: Any) -> None:
        if key not in self._waited:
            self._waited.add(key)
            self.emit(event, **fields)

    def _book_lines(self, outline: Outline) -> list[str]:
        """The book's outline for every writer's cached block: made once per outline, within
        ``BOOK_SHARE`` of the context budget."""
        if self._book is None or self._book[0] is not outline:
            labels = self.prompts.labels(self.brief.language)
            cap = int(self.budget.total * BOOK_SHARE)
            self._book = (outline, book_lines(outline, labels, cap))
        return self._book[1]

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
        before = schedule.slots.get(number - 1)
        final = before is not None and before.kept is not None and number - 1 < frontier.next
        return ChapterJob(
            plan=outline.chapter(number),
            book=self._book_lines(outline),
            # Only the end a writer reads: the job is kept on the board.
            previous_ending=closing_paragraphs(before.kept.text, self.budget.ending)
            if final and before and before.kept
            else "",
            arcs=self.arcs.known(schedule) if self.arcs is not None else {},
            # The version is the number of final chapters: the same reads give the same
            # job, whatever order concurrent commits happened in.
            state=frontier.state_for(number, version=frontier.next - 1),
            summaries=summaries,
            attempt=slot.tries,
            run_id=self.run_id,
            notes=slot.notes,
        )

    async def _attempt(self, job: ChapterJob, lease: Lease) -> Committed | Failed | Elsewhere:
        """One attempt under the chapter's lease (``board.attempt``); its draft is kept in the
        run folder before the commit."""
        assert self._leases is not None

        async def keep(draft: ChapterDraft) -> None:
            await asyncio.to_thread(self._keep_draft, draft)

        result = await write_attempt(self.writer, self.board, self._leases, job, lease, keep=keep)
        # A lost lease: another writer took the job over; its outcome is the attempt's.
        return Elsewhere(None) if isinstance(result, Lost) else result

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
            wanted = [] if _by_author(slot) else self.rule.to_revise(slot.number, found)
            tries = slot.tries - slot.base
            if wanted and tries < self.scheduling.max_attempts and not slot.exhausted:
                slot.notes = self.rule.notes(slot.number, wanted, frontier, schedule.slots)
                schedule.queue(slot.number)
                self.emit("chapter_revision", chapter=slot.number, reasons=slot.notes)
                return
            slot.unresolved = found
            slot.status = "final"
            frontier.finalize()
            self.emit("chapter_final", chapter=slot.number, unresolved=len(found))
            if self.arcs is not None:
                self.arcs.note(schedule, frontier.next - 1)

    # -- continuity pass -----------------------------------------------------------------

    async def review(self, outline: Outline, schedule: Schedule) -> list[ContinuityFinding]:
        """The continuity editor's findings plus contradictions no attempt resolved."""
        kept = {n: s.kept for n, s in schedule.slots.items() if s.kept is not None}
        summaries = {n: draft.summary for n, draft in kept.items()}
        deaths = committed_deaths({n: draft.delta.changes for n, draft in kept.items()})
        labels = self.prompts.labels(self.brief.language)
        unresolved = [
            finding
            for slot in schedule.slots.values()
            for finding in unresolved_findings(
                slot.number, slot.unresolved, labels, by_author=_by_author(slot)
            )
        ]
        if not summaries:
            # No chapter to read (its budget stopped the run before one): a review of an
            # empty book would be paid for, on every resume.
            self.emit("review_skipped", reason="no chapter written")
            return sorted(unresolved, key=lambda f: (f.chapter, f.kind, f.subject))
        self.emit("reviewing", unresolved=len(unresolved))
        try:
            state = await self.manager.snapshot()
            found = await self.editor.review(outline, summaries, state, deaths)
        except (AgentFailedError, ModelCallError) as exc:
            log.warning("continuity_editor_failed", error=str(exc))
            found = [ContinuityFinding(chapter=1, kind="other", detail=f"not reviewed: {exc}")]
        findings = sorted(
            [*found, *unresolved, *self._short_chapters(schedule)],
            key=lambda f: (f.chapter, f.kind, f.subject),
        )
        self.emit("reviewed", findings=len(findings))
        return findings

    def _short_chapters(self, schedule: Schedule) -> list[ContinuityFinding]:
        """A finding for each kept chapter still short of its length after its continuations
        (``project.min_length_ratio``, ``project.max_continuations``)."""
        labels = self.prompts.labels(self.brief.language)
        target, rule = self.brief.target_words, self.writer.length
        findings = []
        for slot in schedule.slots.values():
            record = slot.kept.delta.record if slot.kept else None
            if record is None or not rule.short(record.word_count, target):
                continue
            detail = labels(
                "short_finding",
                chapter=slot.number,
                have=labels.count(record.word_count),
                target=labels.count(target),
                percent=round(100 * rule.min_ratio),
                continuations=record.continuations,
            )
            findings.append(
                ContinuityFinding(chapter=slot.number, kind="short_chapter", detail=detail)
            )
        return findings


def _by_author(slot: ChapterSlot) -> bool:
    """The kept attempt is the author's own text: never revised automatically."""
    return slot.kept is not None and slot.kept.delta.author == HUMAN_AUTHOR


async def _cancel(flights: dict[int, Flight]) -> None:
    """Stop this process's writers still in flight (only when the run is failing)."""
    tasks = [f.task for f in flights.values() if f.task is not None]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
