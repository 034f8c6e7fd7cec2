"""What a resumed run keeps: chapters committed before the process died.

The state store is the truth. A chapter whose kept delta is committed and
whose draft file is there with the digest the chapter record names is kept as
it is (its model call is not paid for twice). A chapter a joined worker wrote
may have no draft file yet (the run died before copying it): its draft is
taken from the outcome the worker left in the store. Anything else (an attempt in
flight, a draft with no commit, a draft that does not match) is redone as a
new attempt, so no idempotency key is ever reused and nothing is applied twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import structlog

from agents.schemas import ChapterDraft
from orchestrator.artifacts.book import BookChapter, chapter_markdown
from orchestrator.artifacts.folder import RunFolder
from orchestrator.board.jobs import JobBoard
from state import ChapterRecord, StateManager
from state.models import Event, StateDelta

log = structlog.get_logger("orchestrator.resume")


@dataclass(frozen=True, slots=True)
class RestoredChapter:
    """One chapter as the store and the run folder left it."""

    number: int
    tries: int  # attempts started before (committed or not)
    kept: ChapterDraft | None


async def restore_chapters(
    manager: StateManager, folder: RunFolder, language: str
) -> dict[int, RestoredChapter]:
    """Chapter number -> what survives of it (only chapters something happened to)."""
    records = await manager.chapters()
    events = await manager.history()
    kept_events = {e.chapter: e for e in events if not e.superseded}
    outcomes = {(o.chapter, o.attempt): o for o in await JobBoard(manager).all_outcomes()}
    tries = _attempts_started(folder, records)
    # Superseded, rewound and failed attempts count too: keys are never reused.
    for chapter, attempt in [*((e.chapter, e.attempt) for e in events), *outcomes]:
        tries[chapter] = max(tries.get(chapter, 0), attempt)
    restored = {}
    for number in sorted(tries):
        event, record = kept_events.get(number), records.get(number)
        kept = None
        if event is not None and record is not None:
            outcome = outcomes.get((event.chapter, event.attempt))
            if outcome is not None and outcome.draft is not None:
                _copy_missing_draft(folder, outcome.draft, language)
            kept = _kept_draft(folder, event, record)
        restored[number] = RestoredChapter(number, tries[number], kept)
    return restored


def _attempts_started(folder: RunFolder, records: dict[int, ChapterRecord]) -> dict[int, int]:
    """The highest attempt each chapter reached: its drafts, and failed attempts on record."""
    tries: dict[int, int] = {n: r.attempt for n, r in records.items()}
    for draft in (folder.root / "drafts").glob("*-*.md"):
        stem, _, attempt = draft.stem.partition("-")
        if stem.isdigit() and attempt.isdigit():
            number = int(stem)
            tries[number] = max(tries.get(number, 0), int(attempt))
    return tries


def _copy_missing_draft(folder: RunFolder, draft: ChapterDraft, language: str) -> None:
    path = folder.draft_path(draft.chapter, draft.attempt)
    if not path.exists():
        chapter = BookChapter(draft.chapter, draft.title, draft.text)
        folder.write_text(path, chapter_markdown(chapter, language))


def _kept_draft(folder: RunFolder, event: Event, record: ChapterRecord) -> ChapterDraft | None:
    path = folder.draft_path(event.chapter, event.attempt)
    try:
        text = draft_body(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("draft_unreadable", chapter=event.chapter, path=str(path), error=str(exc))
        return None
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != record.digest:
        log.warning("draft_digest_mismatch", chapter=event.chapter, path=str(path))
        return None
    delta = event_delta(event, record)
    return ChapterDraft(
        chapter=event.chapter,
        attempt=event.attempt,
        title=record.title,
        text=text,
        summary=record.summary,
        word_count=record.word_count,
        delta=delta,
        prompt_tokens=record.prompt_tokens,
    )


def event_delta(event: Event, record: ChapterRecord) -> StateDelta:
    """The StateDelta a committed event came from."""
    return StateDelta(
        run_id=event.run_id,
        chapter=event.chapter,
        attempt=event.attempt,
        author=event.author,
        reason=event.reason,
        changes=event.changes,
        reads=event.reads,
        record=record,
    )


def draft_body(markdown: str) -> str:
    """The chapter text of a draft file (``# heading``, a blank line, the text)."""
    heading, _, body = markdown.partition("\n\n")
    if not heading.startswith("# "):
        raise ValueError("a draft starts with its '# ' heading")
    return body.removesuffix("\n")
