"""``orchestrator sync RUN``: bring a finished book back in line after the author edited it.

The steps, each crash-safe:

1. Read the book on record and plan (``sync_plan``): the edited chapters are
   read by the run's extractor against the state as of each, the changed
   plans found, the contradicted chapters predicted. The plan is printed;
   ``--dry-run`` stops here, having written nothing.
2. Record the sync in the store (``meta/sync``: the kept attempt of every
   chapter before it, the contradictions the book already had, the chapters
   to rewrite) before anything else is written, so a rerun after a kill
   knows what is this sync's doing. A changed outline is stored.
3. Commit each edited chapter as a new attempt by ``human``: its draft (the
   author's file, byte for byte) first, then its delta, under a new
   idempotency key. Once committed, the file matches its kept attempt again,
   so a rerun does not commit it twice.
4. Write the book as ``resume`` does (``Coordinator.write_book``) with the
   sync's ``RevisionRule``: chapters whose plan changed are written again;
   a chapter is revised only for a contradiction this sync caused, with notes
   that name the chapter that caused it; the author's chapters are never
   revised (their contradictions are findings for the author).
5. Reassemble the manuscript, EPUB, findings, summary and manifest as a run
   does (``finish_book``), then mark the sync done.

A kill anywhere leaves a store a rerun goes on from: every attempt has a new
number, and nothing is applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.clients.metered import MeteredClient
from agents.prompts import PromptLibrary
from agents.schemas import ChapterDraft, ChapterJob, ChapterPlan, Outline
from agents.writer import HUMAN_AUTHOR, chapter_draft
from orchestrator.artifacts.book import BookChapter, chapter_markdown
from orchestrator.artifacts.folder import RunFolder, RunFolderError
from orchestrator.artifacts.manifest import MANIFEST_FILE, verify
from orchestrator.artifacts.ownership import check_claim, claim_store
from orchestrator.project.bible import load_run_config
from orchestrator.run.contradictions import RevisionRule, revision_notes, unresolved_findings
from orchestrator.run.coordinator import Coordinator, Observer
from orchestrator.run.frontier import StoryFrontier
from orchestrator.run.novel import (
    RunRequest,
    call_journal,
    config_for_workers,
    finish_book,
    make_coordinator,
    store_watch,
)
from orchestrator.run.outlines import OutlineEdit, edited_outline, store_outline
from orchestrator.run.restore import RestoredChapter, event_delta, restore_chapters
from orchestrator.run.schedule import ChapterSlot
from orchestrator.run.sync_plan import (
    BookOnRecord,
    Changes,
    ConflictKey,
    Extract,
    SyncPlan,
    body_of,
    conflict_key,
    find_changes,
    known_contradictions,
    predict,
    unedited_files,
    walk_edits,
)
from state import StateManager, open_state
from state.atomic import stale_temp_files
from state.models import Conflicting, StoryState

EDITED_REASON = "edited by the author"  # the reason on record of an author's attempt
SYNC_DOC = "sync"  # meta/sync: the sync in progress (or the last one, done)


@dataclass
class SyncResult:
    """What a sync found and did."""

    run_dir: str
    language: str
    plan: SyncPlan
    dry_run: bool = False
    done: bool = False  # False: nothing to do (or a dry run)
    nothing: bool = False  # nothing to do: every file matches, no plan changed
    extracted: list[int] = field(default_factory=list)
    rewritten: list[int] = field(default_factory=list)
    revised: list[int] = field(default_factory=list)
    notes: dict[int, list[str]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)  # for the author
    unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": self.run_dir,
            "dry_run": self.dry_run,
            "done": self.done,
            "nothing": self.nothing,
            "plan": self.plan.to_dict(),
            "extracted": self.extracted,
            "rewritten": self.rewritten,
            "revised": self.revised,
            "notes": {str(n): notes for n, notes in sorted(self.notes.items())},
            "author_findings": self.findings,
            "unchanged": self.unchanged,
        }

    def render(self) -> str:
        """The plan, then what was done, in the book's language."""
        done = self.render_outcome()
        return self.render_plan() + (f"\n{done}" if done else "")

    def render_plan(self) -> str:
        """What the sync found and means to do (printed before it does anything)."""
        labels = PromptLibrary().labels(self.language)
        lines = [labels("sync.head", run_dir=self.run_dir)]
        if self.nothing:
            lines.append(labels("sync.nothing"))
            return "\n".join(lines)
        lines += [f"  {line}" for line in self.plan.render(labels)]
        if self.dry_run:
            lines.append(labels("sync.dry_run"))
        return "\n".join(lines)

    def render_outcome(self) -> str:
        """What the sync did: chapters read, rewritten and revised (with the notes each
        revision was written with), findings for the author, files left as they were."""
        if not self.done:
            return ""
        labels = PromptLibrary().labels(self.language)
        lines = [
            labels(
                "sync.done",
                edited=labels.join([str(n) for n in self.extracted]),
                replanned=labels.join([str(n) for n in self.rewritten]),
                revised=labels.join([str(n) for n in self.revised]),
                findings=len(self.findings),
            )
        ]
        for n, notes in sorted(self.notes.items()):
            lines += [f"  {n}: {note}" for note in notes]
        lines += [f"  {finding['detail']}" for finding in self.findings]
        lines.append(labels("sync.unchanged", count=self.unchanged))
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class SyncDoc:
    """``meta/sync``: what a sync recorded before it wrote anything."""

    before: dict[int, int]  # chapter -> its kept attempt before the sync
    known: dict[int, set[ConflictKey]]  # contradictions the book already had
    replan: dict[int, int]  # chapters to write again -> their kept attempt then
    found: dict[int, str]  # digests of the chapter files it found unedited
    pending: bool = True
    # orchestrator rewrite: the chapters the author asked to be written again, and their notes
    notes: dict[int, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "before": {str(n): a for n, a in self.before.items()},
            "known": {str(n): sorted(k) for n, k in self.known.items()},
            "replan": {str(n): a for n, a in self.replan.items()},
            "found": {str(n): d for n, d in self.found.items()},
            "notes": {str(n): notes for n, notes in self.notes.items()},
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SyncDoc:
        return cls(
            before={int(n): int(a) for n, a in doc.get("before", {}).items()},
            known={int(n): set(k) for n, k in doc.get("known", {}).items()},
            replan={int(n): int(a) for n, a in doc.get("replan", {}).items()},
            found={int(n): str(d) for n, d in doc.get("found", {}).items()},
            pending=bool(doc.get("pending")),
            notes={int(n): list(notes) for n, notes in doc.get("notes", {}).items()},
        )


class SyncRule(RevisionRule):
    """A sync revises a chapter only for what the sync changed, and says which chapter
    changed it; attempts count from the sync's first."""

    fresh = True

    def __init__(self, coordinator: Coordinator, doc: SyncDoc) -> None:
        super().__init__(coordinator.prompts, coordinator.brief.language)
        self.doc = doc
        labels = self.prompts.labels(self.language)
        self.given: dict[int, list[str]] = {}  # every revision's notes, for the report
        for n in doc.replan:
            asked = [labels("rewrite.note", note=note) for note in doc.notes.get(n, [])]
            self.rewrite[n] = asked or [labels("sync.replan_note")]

    def to_revise(self, chapter: int, found: list[Conflicting]) -> list[Conflicting]:
        known = self.doc.known.get(chapter, set())
        return [c for c in found if conflict_key(c) not in known]

    def notes(
        self,
        chapter: int,
        found: list[Conflicting],
        frontier: StoryFrontier,
        slots: Mapping[int, ChapterSlot],
    ) -> list[str]:
        labels = self.prompts.labels(self.language)
        changed = self._changed(slots)
        notes = []
        for item, line in zip(
            found, revision_notes(found, self.prompts, self.language), strict=True
        ):
            cause = _cause(chapter, item, frontier, changed)
            if cause is None:
                notes.append(line)
                continue
            why = labels(f"sync.cause_{self._kind(cause, slots)}")
            notes.append(labels("sync.note", chapter=cause, cause=why, detail=line))
        self.given[chapter] = notes
        return notes

    def _changed(self, slots: Mapping[int, ChapterSlot]) -> set[int]:
        return {
            n
            for n, slot in slots.items()
            if slot.kept is not None and slot.kept.attempt != self.doc.before.get(n)
        }

    def _kind(self, chapter: int, slots: Mapping[int, ChapterSlot]) -> str:
        kept = slots[chapter].kept
        if kept is not None and kept.delta.author == HUMAN_AUTHOR:
            return "edited"
        if chapter in self.doc.notes:
            return "rewritten"
        return "replanned" if chapter in self.doc.replan else "revised"


def _cause(
    chapter: int, item: Conflicting, frontier: StoryFrontier, changed: set[int]
) -> int | None:
    """The chapter this sync changed that set the field (else the latest it changed)."""
    setter = frontier.setter(item.key, item.field)
    if setter in changed:
        return setter
    before = [n for n in changed if n < chapter]
    return max(before) if before else None


@dataclass(frozen=True, slots=True)
class Planned:
    """What the sync found: the book on record, its changes, the edits read, the plan."""

    book: BookOnRecord
    outline_edit: OutlineEdit | None  # the author's outline.yaml, when it changed the outline
    changes: Changes
    drafts: dict[int, ChapterDraft]
    plan: SyncPlan
    # An interrupted sync's record, to go on from (pending); for a new sync, only the
    # contradictions the book already had.
    doc: SyncDoc


async def sync_run(
    folder: RunFolder,
    observer: Observer,
    client: MeteredClient,
    dry_run: bool = False,
    on_plan: Callable[[SyncResult], None] | None = None,
    rewrite: Mapping[int, list[str]] | None = None,
) -> SyncResult:
    """Plan the sync of ``folder``'s book and, unless ``dry_run``, carry it out; the plan
    goes to ``on_plan`` before anything is written. ``rewrite`` (``orchestrator rewrite``):
    chapters to write again with the author's notes, then the same cascade. The caller
    holds the run lock."""
    started_at = datetime.now(UTC)
    if not folder.path(MANIFEST_FILE).exists():
        raise RunFolderError(
            f"{folder.root} has no finished book to sync (no {MANIFEST_FILE}); "
            f"write it first with `orchestrator write {folder.root}`"
        )
    config_path = folder.path("config.yaml")
    request = RunRequest(load_run_config(folder.root), config_path, folder)
    url = folder.store_url()
    async with open_state(url, create=False) as manager:
        await check_claim(manager, folder, url)
        coordinator = make_coordinator(request, client, manager, folder, observer)
        planned = await _plan(coordinator, request, rewrite or {})
        language = request.config.project.language
        result = SyncResult(str(folder.root), language, planned.plan, dry_run)
        coordinator.emit("sync_planned", **planned.plan.to_dict())
        result.nothing = planned.plan.empty and verify(folder).ok
        if on_plan is not None:
            on_plan(result)
        if dry_run or result.nothing:
            return result
        _remove_temp_files(folder)
        await claim_store(manager, folder, url)
        doc = await _begin(coordinator, request, planned)
        with call_journal(client, folder):
            await _commit_edits(coordinator, folder, planned.drafts, planned.changes.edited)
            await _write(coordinator, request, planned.book, doc, result, started_at, observer)
        await manager.put_meta(SYNC_DOC, {**doc.to_json(), "pending": False})
    return result


async def _plan(
    coordinator: Coordinator, request: RunRequest, rewrite: Mapping[int, list[str]]
) -> Planned:
    """Read the book, find what changed, read the edits, predict the revisions. An
    interrupted sync's record (``meta/sync``) makes a rerun go on from where it stopped."""
    manager, folder = coordinator.manager, request.folder
    doc = await _sync_doc(manager)
    if doc is not None and not doc.pending:
        doc = None
    book, edit = await read_book(manager, folder, request, doc.before if doc else None)
    _check_whole(folder, book)
    restored = await restore_chapters(manager, folder, request.config.project.language)
    changes = find_changes(book, doc.replan, doc.found) if doc else find_changes(book)
    if rewrite and doc is None:
        changes = _asked(folder, book, changes, rewrite)
    drafts = await walk_edits(book, changes, _extractor(coordinator, restored))
    known = doc.known if doc else known_contradictions(book)
    plan = predict(book, changes, drafts, known)
    plan.continuing = doc is not None
    plan.asked = dict(doc.notes if doc else rewrite)
    new = SyncDoc({}, known, {}, {}, pending=False, notes=dict(rewrite))
    return Planned(book, edit, changes, drafts, plan, doc or new)


def _asked(
    folder: RunFolder, book: BookOnRecord, changes: Changes, rewrite: Mapping[int, list[str]]
) -> Changes:
    """The changes with the chapters the author asked to rewrite added to those written
    again; a chapter the book does not have, or whose file holds edits not yet synced,
    is refused (the notes are for a model's draft, not for the author's own text)."""
    for n in sorted(rewrite):
        if n not in book.kept:
            raise RunFolderError(f"{folder.root}: the book has no chapter {n} to rewrite")
        if n in changes.edited:
            raise RunFolderError(
                f"{folder.root}: chapter {n}'s file has edits not yet synced; run "
                f"`orchestrator sync {folder.root}` first (or put the file back), then rewrite"
            )
    replanned = sorted(set(changes.replanned) | set(rewrite))
    missing = [n for n in changes.missing if n not in rewrite]
    return Changes(changes.edited, replanned, missing)


async def _begin(coordinator: Coordinator, request: RunRequest, planned: Planned) -> SyncDoc:
    """Record the sync in the store before anything else is written (a rerun goes on from
    it), and store a changed outline."""
    book, changes, doc = planned.book, planned.changes, planned.doc
    replan = {n: book.kept[n].attempt for n in changes.replanned}
    if doc.pending:
        doc = SyncDoc(doc.before, doc.known, {**replan, **doc.replan}, doc.found, notes=doc.notes)
    else:
        before = {n: d.attempt for n, d in book.kept.items()}
        found = unedited_files(book, changes)
        doc = SyncDoc(before, doc.known, replan, found, notes=doc.notes)
    await coordinator.manager.put_meta(SYNC_DOC, doc.to_json())
    edit = planned.outline_edit
    if edit is not None:  # a new version of the outline, the author's file kept as it is
        manager, config = coordinator.manager, request.config
        number = await store_outline(
            request.folder, manager, edit.outline, config, "author", edit.data
        )
        coordinator.emit("outline_stored", version=number)
    return doc


async def read_book(
    manager: StateManager,
    folder: RunFolder,
    request: RunRequest,
    before: Mapping[int, int] | None = None,
) -> tuple[BookOnRecord, OutlineEdit | None]:
    """The kept deltas, chapter files and outlines of a finished run (the outline now is
    the author's ``outline.yaml`` when they edited it: validated, exit 2 if it is not an
    outline of this project); with ``before`` (chapter -> attempt: an interrupted sync's
    record), also the deltas of those attempts."""
    stored = await manager.meta("outline")
    if stored is None:
        raise RunFolderError(f"{folder.root}: the store keeps no outline (the run never planned)")
    written_from = Outline.model_validate(stored)
    edit = await edited_outline(folder, manager, request.config)
    outline = written_from if edit is None else edit.outline
    records = await manager.chapters()
    events = await manager.history()
    kept = {
        event.chapter: event_delta(event, records[event.chapter])
        for event in events
        if not event.superseded and event.chapter in records
    }
    seen = None
    if before is not None:
        seen = {
            e.chapter: event_delta(e, records[e.chapter])
            for e in events
            if before.get(e.chapter) == e.attempt and e.chapter in records
        }
    files = {n: _read(folder, n) for n in kept}
    initial = await manager.snapshot(as_of_chapter=1)
    return BookOnRecord(initial, written_from, outline, kept, files, seen), edit


def _check_whole(folder: RunFolder, book: BookOnRecord) -> None:
    """A sync brings a whole book in line; a run with chapters never kept is resumed first."""
    unwritten = sorted(set(range(1, len(book.outline.chapters) + 1)) - set(book.kept))
    if unwritten:
        raise RunFolderError(
            f"{folder.root}: chapters {', '.join(map(str, unwritten))} have no kept attempt; "
            f"write them first with `orchestrator resume {folder.root}`, then sync"
        )


def _read(folder: RunFolder, chapter: int) -> str | None:
    try:
        return folder.chapter_path(chapter).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


async def _sync_doc(manager: StateManager) -> SyncDoc | None:
    doc = await manager.meta(SYNC_DOC)
    return None if doc is None else SyncDoc.from_json(doc)


def _extractor(coordinator: Coordinator, restored: Mapping[int, RestoredChapter]) -> Extract:
    """Read an author's text with the run's extractor, as a new attempt by ``human``."""
    extractor = coordinator.writer.extractor
    language = coordinator.brief.language

    async def extract(plan: ChapterPlan, state: StoryState, text: str) -> ChapterDraft:
        tries = restored[plan.number].tries if plan.number in restored else 0
        job = ChapterJob(plan=plan, state=state, attempt=tries + 1, run_id=coordinator.run_id)
        body = body_of(text)
        report = await extractor.extract(plan, state, body, job.attempt)
        return chapter_draft(
            job, body, report, language=language, author=HUMAN_AUTHOR, reason=EDITED_REASON
        )

    return extract


async def _commit_edits(
    coordinator: Coordinator,
    folder: RunFolder,
    drafts: Mapping[int, ChapterDraft],
    files: Mapping[int, str],
) -> None:
    """Each author's text as a new attempt: the draft (the file as written) made durable
    first, then the delta committed (a repeat of the same key changes nothing)."""
    for n, draft in sorted(drafts.items()):
        text = files[n]
        if not text.startswith("# "):  # a file without its heading gets one in drafts/
            chapter = BookChapter(n, draft.title, draft.text)
            text = chapter_markdown(chapter, coordinator.brief.language)
        folder.write_text(folder.draft_path(n, draft.attempt), text)
        await coordinator.manager.apply(draft.delta)
        coordinator.emit("chapter_extracted", chapter=n, attempt=draft.attempt)


async def _write(
    coordinator: Coordinator,
    request: RunRequest,
    book: BookOnRecord,
    doc: SyncDoc,
    result: SyncResult,
    started_at: datetime,
    observer: Observer,
) -> None:
    """Rewrite, revise and reassemble, as a resumed run does, under the sync's rule."""
    manager, folder = coordinator.manager, request.folder
    rule = SyncRule(coordinator, doc)
    coordinator.rule = rule
    restored = await restore_chapters(manager, folder, request.config.project.language)
    initial = await manager.snapshot(as_of_chapter=1)
    await coordinator.board.open_run(config_for_workers(request.config))
    schedule = await coordinator.write_book(book.outline, initial, restored)
    watch = store_watch(request, manager, folder.store_url(), observer)
    await finish_book(coordinator, request, watch, book.outline, schedule, started_at)
    labels = coordinator.prompts.labels(coordinator.brief.language)
    for n, slot in sorted(schedule.slots.items()):
        kept = slot.kept
        if kept is None or kept.attempt == doc.before.get(n):
            result.unchanged += 1
        elif kept.delta.author == HUMAN_AUTHOR:
            result.extracted.append(n)
        elif n in doc.replan:
            result.rewritten.append(n)
        else:
            result.revised.append(n)
        if kept is not None and kept.delta.author == HUMAN_AUTHOR and slot.unresolved:
            result.findings += [
                {"chapter": n, "detail": f.detail}
                for f in unresolved_findings(n, slot.unresolved, labels, by_author=True)
            ]
    result.notes = {n: notes for n, notes in rule.given.items() if n in result.revised}
    result.done = True


def _remove_temp_files(folder: RunFolder) -> None:
    """Temp files a killed writer left (no writer runs: the caller holds the run lock)."""
    for sub in ("", "chapters", "drafts"):
        for temp in stale_temp_files(folder.root / sub):
            temp.unlink(missing_ok=True)
