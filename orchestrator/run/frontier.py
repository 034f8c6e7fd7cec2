"""The continuity frontier: which chapters are final, and what every chapter should read.

Chapters are written concurrently, so this is optimistic concurrency control
applied to a story. A chapter is *final* when every chapter before it is final
and what it read (the ``old`` values of its changes and its read set) matches
the state those chapters left. The frontier is the first chapter that is not
final yet; the state as of the frontier is exact.

A chapter beyond the frontier reads the best guess there is: the exact state
as of the frontier, then, for each chapter in between, the changes it
committed or, if it has not committed yet, the changes its plan intends. When
the frontier reaches a chapter whose reads no longer hold (an earlier chapter
did something other than its plan), that chapter is revised against the exact
state, so a revision is never itself contradicted by an earlier chapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agents.planned import planned_changes
from agents.schemas import Outline
from state.models import Conflicting, FieldChange, StateDelta, StoryState

Docs = dict[str, dict[str, Any]]


class StoryFrontier:
    """The exact state as of the first chapter not yet final, and guesses beyond it."""

    def __init__(self, initial: StoryState, outline: Outline) -> None:
        self._docs: Docs = initial.documents()
        self._outline = outline
        self._committed: dict[int, list[FieldChange]] = {}
        self._setters: dict[tuple[str, str], int] = {}  # (key, field) -> final chapter
        self.next = 1  # the first chapter that is not final

    @property
    def total(self) -> int:
        return len(self._outline.chapters)

    @property
    def done(self) -> bool:
        return self.next > self.total

    def state(self) -> StoryState:
        """The exact state as of the frontier (after every final chapter)."""
        return StoryState.from_documents(_copy(self._docs))

    def state_for(self, chapter: int, version: int = 0) -> StoryState:
        """What ``chapter`` should read: exact up to the frontier, then committed or planned."""
        docs = _copy(self._docs)
        for number in range(self.next, chapter):
            committed = self._committed.get(number)
            if committed is None:
                changes = planned_changes(self._outline.chapter(number), docs)
            else:
                changes = [(c.key, c.field, c.new) for c in committed]
            _fold_into(docs, changes)
        return StoryState.from_documents(docs, version=version)

    def committed(self, chapter: int, changes: list[FieldChange]) -> None:
        """``chapter``'s kept delta changed these fields (not final until validated)."""
        self._committed[chapter] = changes

    def contradictions(self, delta: StateDelta) -> list[Conflicting]:
        """What the frontier chapter read that the final chapters before it contradict."""
        if delta.chapter != self.next:
            raise ValueError(f"chapter {delta.chapter} is not the frontier ({self.next})")
        expected = [(c.key, c.field, c.old) for c in delta.changes]
        expected += [(r.key, r.field, r.value) for r in delta.reads]
        found = []
        for key, field, value in expected:
            actual = self._docs.get(key, {}).get(field)
            if actual != value:
                found.append(Conflicting(key=key, field=field, expected=value, actual=actual))
        return found

    def setter(self, key: str, field: str) -> int | None:
        """The last final chapter that set ``field`` of ``key`` (None: it is initial)."""
        return self._setters.get((key, field))

    def finalize(self, planned: list[FieldChange] | None = None) -> None:
        """The frontier chapter is final (its committed changes, if any, now count; or
        ``planned``, for a chapter not written yet whose plan stands in for it)."""
        changes = self._committed.pop(self.next, planned or [])
        _fold_into(self._docs, ((c.key, c.field, c.new) for c in changes))
        for change in changes:
            self._setters[(change.key, change.field)] = self.next
        self.next += 1


def _copy(docs: Docs) -> Docs:
    # Changes replace field values, never mutate them, so one level deep is enough.
    return {key: dict(doc) for key, doc in docs.items()}


def _fold_into(docs: Docs, changes: Iterable[tuple[str, str, Any]]) -> None:
    for key, field, new in changes:
        docs.setdefault(key, {})[field] = new


def contradicted(
    initial: StoryState, outline: Outline, deltas: Mapping[int, StateDelta]
) -> dict[int, list[Conflicting]]:
    """Chapter -> what the frontier finds against its kept delta, were no chapter revised.

    The coordinator's check (``Coordinator._advance``) over a finished book: the
    chapters it would send to revision, and why (``bench continuity`` uses it).
    """
    frontier = StoryFrontier(initial, outline)
    for number, delta in deltas.items():
        frontier.committed(number, delta.changes)
    found: dict[int, list[Conflicting]] = {}
    while not frontier.done:
        kept = deltas.get(frontier.next)
        conflicts = frontier.contradictions(kept) if kept is not None else []
        if conflicts:
            found[frontier.next] = conflicts
        frontier.finalize()
    return found
