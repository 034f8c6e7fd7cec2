"""What ``orchestrator sync`` finds and means to do: the plan, a pure function of the book.

The book on record (``BookOnRecord``) is what the store and the run folder
hold: the kept delta of every chapter, the chapter files, the outline its
kept attempts were written from and the outline now. From it:

- ``find_changes``: the chapters whose file no longer matches the digest of
  their kept attempt (edited by the author), and the written chapters whose
  plan changed;
- ``walk_edits``: the state as of each edited chapter, for the extractor to
  read the author's text against: the book the author saw when editing it
  (the kept attempts before the sync, folded in order). A later chapter the
  author also edited thus keeps what it relied on, and an earlier edit that
  contradicts it becomes a finding for the author, as for any of their chapters;
- ``predict``: the later chapters whose read sets the new deltas contradict
  (to revise), and the author's own chapters they contradict (findings for
  the author, never revised). Contradictions the book had before the sync are
  already findings and are not a reason to revise.

The prediction is the frontier's first pass, as the coordinator applies it;
a revision that turns out differently from the chapter it replaces may
contradict chapters further on, and those are revised when they come up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.planned import planned_changes
from agents.prompts import Labels
from agents.schemas import ChapterDraft, ChapterPlan, Outline
from agents.writer import HUMAN_AUTHOR
from orchestrator.run.frontier import StoryFrontier, contradicted
from orchestrator.run.restore import draft_body
from state.models import Conflicting, FieldChange, StateDelta, StoryState

# (key, field, expected, actual) as canonical JSON: a contradiction, comparable across runs.
ConflictKey = str
Extract = Callable[[ChapterPlan, StoryState, str], Awaitable[ChapterDraft]]


@dataclass(frozen=True, slots=True)
class BookOnRecord:
    """A finished book as the store and the run folder hold it."""

    initial: StoryState
    written_from: Outline  # the outline the kept attempts were written from
    outline: Outline  # the outline now
    kept: Mapping[int, StateDelta]  # each chapter's kept delta, with its record
    files: Mapping[int, str | None]  # each chapter file's text (None: missing)
    seen: Mapping[int, StateDelta] | None = None  # the kept deltas before the sync began

    @property
    def before(self) -> Mapping[int, StateDelta]:
        """The book the author saw: the kept deltas when the sync began."""
        return self.kept if self.seen is None else self.seen


@dataclass(frozen=True, slots=True)
class Changes:
    """What changed since the kept attempts: edited texts, changed plans, missing files."""

    edited: dict[int, str]  # chapter -> its file as the author left it
    replanned: list[int]
    missing: list[int]

    @property
    def empty(self) -> bool:
        return not self.edited and not self.replanned and not self.missing


@dataclass
class SyncPlan:
    """What a sync will do, and why; printed before anything is done."""

    changes: Changes
    extracted: dict[int, list[FieldChange]] = field(default_factory=dict)
    revise: dict[int, list[Conflicting]] = field(default_factory=dict)
    findings: dict[int, list[Conflicting]] = field(default_factory=dict)
    continuing: bool = False  # an interrupted sync goes on

    @property
    def empty(self) -> bool:
        return self.changes.empty and not self.revise and not self.continuing

    def to_dict(self) -> dict[str, Any]:
        return {
            "continuing": self.continuing,
            "edited": {str(n): _changes(c) for n, c in sorted(self.extracted.items())},
            "replanned": self.changes.replanned,
            "missing": self.changes.missing,
            "revise": {str(n): _conflicts(c) for n, c in sorted(self.revise.items())},
            "findings": {str(n): _conflicts(c) for n, c in sorted(self.findings.items())},
        }

    def render(self, labels: Labels) -> list[str]:
        """The plan, a line a chapter, in the book's language."""
        lines = [labels("sync.continuing")] if self.continuing else []
        for n, changes in sorted(self.extracted.items()):
            said = [describe_change(c, labels) for c in changes]
            lines.append(labels("sync.edited", chapter=n, changes=_said(said, labels)))
        lines += [labels("sync.replanned", chapter=n) for n in self.changes.replanned]
        lines += [labels("sync.missing", chapter=n) for n in self.changes.missing]
        for n, found in sorted(self.revise.items()):
            lines.append(labels("sync.revise", chapter=n, reasons=_reasons(found, labels)))
        for n, found in sorted(self.findings.items()):
            lines.append(labels("sync.finding", chapter=n, reasons=_reasons(found, labels)))
        if (self.extracted or self.changes.replanned) and not self.revise:
            lines.append(labels("sync.unaffected"))
        return lines


def body_of(markdown: str) -> str:
    """A chapter file's text: what follows its ``# heading`` and the blank line after it
    (the whole file when it has no heading)."""
    try:
        return draft_body(markdown)
    except ValueError:
        return markdown.removesuffix("\n")


def digest(text: str) -> str:
    """The digest a chapter record keeps of its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unedited_files(book: BookOnRecord, changes: Changes) -> dict[int, str]:
    """The digest of every chapter file as a sync finds it, but the edited ones."""
    return {
        n: digest(body_of(text))
        for n, text in book.files.items()
        if text is not None and n not in changes.edited
    }


def find_changes(
    book: BookOnRecord,
    replan: Mapping[int, int] | None = None,
    found: Mapping[int, str] | None = None,
) -> Changes:
    """Edited, replanned and missing chapters. An interrupted sync left ``replan``
    (chapters it meant to rewrite -> their kept attempt then: still to do while that
    attempt is kept) and ``found`` (the digests of the chapter files it found unedited:
    a file it revised the chapter of but had not written out yet is no edit)."""
    edited, missing = {}, []
    for n, delta in sorted(book.kept.items()):
        text = book.files.get(n)
        record = delta.record
        if text is None:
            missing.append(n)
            continue
        now = digest(body_of(text))
        if record is not None and now != record.digest and (found or {}).get(n) != now:
            edited[n] = text
    replanned = sorted(
        {
            n
            for n in book.kept
            if n not in edited and _plan(book.outline, n) != _plan(book.written_from, n)
        }
        | {n for n, attempt in (replan or {}).items() if book.kept[n].attempt <= attempt}
        - set(edited)
    )
    return Changes(edited, replanned, [n for n in missing if n not in replanned])


def _plan(outline: Outline, number: int) -> dict[str, Any] | None:
    try:
        return outline.chapter(number).model_dump(mode="json")
    except (KeyError, ValueError, IndexError):
        return None


async def walk_edits(
    book: BookOnRecord, changes: Changes, extract: Extract
) -> dict[int, ChapterDraft]:
    """Each edited chapter read (``extract``) against the state as of it: the chapters
    before it in order, earlier edits and changed plans (as planned) included."""
    frontier = _frontier(book, changes)
    drafts: dict[int, ChapterDraft] = {}
    while not frontier.done:
        n = frontier.next
        if n in changes.edited:
            plan = book.outline.chapter(n)
            draft = await extract(plan, frontier.state(), changes.edited[n])
            drafts[n] = draft
            frontier.committed(n, draft.delta.changes)
        frontier.finalize(_planned(book, changes, frontier, n))
    return drafts


def predict(
    book: BookOnRecord,
    changes: Changes,
    drafts: Mapping[int, ChapterDraft],
    known: Mapping[int, set[ConflictKey]],
) -> SyncPlan:
    """The chapters the new deltas contradict: to revise, or (the author's own) findings."""
    deltas = {**_standing(book, changes), **{n: d.delta for n, d in drafts.items()}}
    frontier = _frontier(book, changes)
    for n, draft in drafts.items():
        frontier.committed(n, draft.delta.changes)
    extracted = {n: edit_of(d.delta, book.before.get(n)) for n, d in sorted(drafts.items())}
    plan = SyncPlan(changes, extracted=extracted)
    while not frontier.done:
        n = frontier.next
        delta = deltas.get(n)
        if delta is not None and n not in changes.edited:
            new = [
                c
                for c in frontier.contradictions(delta)
                if conflict_key(c) not in known.get(n, set())
            ]
            if new:
                target = plan.findings if delta.author == HUMAN_AUTHOR else plan.revise
                target[n] = new
        frontier.finalize(_planned(book, changes, frontier, n))
    return plan


def edit_of(new: StateDelta, old: StateDelta | None) -> list[FieldChange]:
    """What the author's text changes that the attempt it replaces did not: each field
    it leaves with another value than the old attempt did (or than it found)."""
    before = {(c.key, c.field): c.new for c in old.changes} if old else {}
    return [c for c in new.changes if before.get((c.key, c.field), c.old) != c.new]


def known_contradictions(book: BookOnRecord) -> dict[int, set[ConflictKey]]:
    """The contradictions the book has before the sync (already findings)."""
    found = contradicted(book.initial, book.written_from, book.kept)
    return {n: {conflict_key(c) for c in items} for n, items in found.items()}


def conflict_key(item: Conflicting) -> ConflictKey:
    return json.dumps([item.key, item.field, item.expected, item.actual], sort_keys=True)


def describe_change(change: FieldChange, labels: Labels) -> str:
    """``Tobias Wren: alive or dead dead``, as the outline says a change."""
    subject = change.key.partition("/")[2]
    return labels(
        "outline.change",
        subject=subject,
        field=labels.name("fields", change.field),
        value=labels.value(change.field, change.new),
    )


def _frontier(book: BookOnRecord, changes: Changes) -> StoryFrontier:
    frontier = StoryFrontier(book.initial, book.outline)
    for n, delta in _standing(book, changes).items():
        frontier.committed(n, delta.changes)
    return frontier


def _standing(book: BookOnRecord, changes: Changes) -> dict[int, StateDelta]:
    """The kept deltas that stand: not those of edited or replanned chapters."""
    gone = set(changes.edited) | set(changes.replanned)
    return {n: d for n, d in book.kept.items() if n not in gone}


def _planned(
    book: BookOnRecord, changes: Changes, frontier: StoryFrontier, n: int
) -> list[FieldChange] | None:
    """A replanned chapter's new plan, standing in for it until it is written again."""
    if n not in changes.replanned:
        return None
    docs = frontier.state().documents()
    return [
        FieldChange(key=key, field=name, old=docs.get(key, {}).get(name), new=new)
        for key, name, new in planned_changes(book.outline.chapter(n), docs)
    ]


def _changes(changes: Sequence[FieldChange]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in changes]


def _conflicts(found: Sequence[Conflicting]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in found]


def _reasons(found: Sequence[Conflicting], labels: Labels) -> str:
    return labels.join(
        [
            labels(
                "outline.change",
                subject=c.key.partition("/")[2],
                field=labels.name("fields", c.field),
                value=labels.value(c.field, c.actual),
            )
            for c in found
        ]
    )


def _said(items: list[str], labels: Labels) -> str:
    return labels.join(items) if items else labels("sync.no_change")
