"""The state a chapter would read if every chapter before it went to plan.

In parallel mode a chapter is written before the ones ahead of it exist, so it
reads the planned state: the initial state with the earlier chapters' planned
changes folded in, the same way the writer reports them (the cast on stage
ends at the setting, then the changes, then the foreshadowing ledger). When an
earlier chapter then commits something else, the store sees that this
chapter's ``old`` values no longer hold, and the chapter is revised.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from agents.schemas import ChapterPlan, Outline
from state.models import CHARACTERS, FORESHADOWING, StoryState

Change = tuple[str, str, Any]  # (key, field, new)
Documents = dict[str, dict[str, Any]]


def planned_state(initial: StoryState, outline: Outline, chapter: int) -> StoryState:
    """The state as of ``chapter`` (before it) if chapters 1..chapter-1 follow the plan."""
    docs = initial.documents()
    for plan in outline.chapters[: max(0, chapter - 1)]:
        for key, field, new in planned_changes(plan, docs):
            docs.setdefault(key, {})[field] = new
    return StoryState.from_documents(docs, version=initial.version)


def planned_changes(plan: ChapterPlan, docs: Documents) -> list[Change]:
    """What one chapter changes if it goes to plan, given the documents before it."""
    moved = {c.character for c in plan.changes if c.field == "location" and c.character}
    return [
        *presence(plan, docs, moved),
        *((c.key, c.field, c.new) for c in plan.changes),
        *ledger(plan.plants, plan.payoffs, plan.number),
    ]


def presence(plan: ChapterPlan, docs: Documents, moved: Collection[str | None]) -> list[Change]:
    """The living cast on stage ends the chapter at its setting, unless moved elsewhere."""
    return [
        (f"{CHARACTERS}/{name}", "location", plan.setting)
        for name in plan.characters
        if name not in moved and docs.get(f"{CHARACTERS}/{name}", {}).get("alive", True)
    ]


def ledger(planted: Sequence[str], paid_off: Sequence[str], chapter: int) -> list[Change]:
    """The foreshadowing ledger entries of threads planted and paid off in ``chapter``."""
    entries: list[Change] = []
    for ident in planted:
        entries += [(f"{FORESHADOWING}/{ident}", "status", "planted")]
        entries += [(f"{FORESHADOWING}/{ident}", "planted_in", chapter)]
    for ident in paid_off:
        entries += [(f"{FORESHADOWING}/{ident}", "status", "paid_off")]
        entries += [(f"{FORESHADOWING}/{ident}", "paid_off_in", chapter)]
    return entries
