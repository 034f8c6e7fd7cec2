"""What the coordinator does with a chapter whose reads no longer hold.

While attempts remain, the contradictions become the notes of the revision
(``prompts/contradiction.<lang>.md``); after the last attempt they become
continuity findings, so the writer sees them in ``findings.json`` and the
summary instead of finding them in the book. A chapter the author wrote by
hand is never revised: its contradictions are findings addressed to the author.

Which contradictions send a chapter to revision, and what its notes say, is a
``RevisionRule``: a run revises for every one; ``sync`` only for those its
edits caused, with notes that name the edit (``orchestrator.run.sync``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from agents.prompts import Labels, PromptLibrary
from agents.schemas import ContinuityFinding, FindingKind
from state.models import Conflicting

if TYPE_CHECKING:
    from orchestrator.run.frontier import StoryFrontier
    from orchestrator.run.schedule import ChapterSlot

_KIND_OF_FIELD: dict[str, FindingKind] = {
    "alive": "dead_character",
    "location": "location",
    "knowledge": "knowledge",
}


def revision_notes(
    found: Sequence[Conflicting], prompts: PromptLibrary, language: str
) -> list[str]:
    """One line per contradiction, in the project language, for the writer's revision prompt."""
    labels = prompts.labels(language)
    return [
        prompts.render(
            "contradiction",
            language,
            subject=item.key.partition("/")[2],
            field=labels.name("fields", item.field),
            actual=labels.value(item.field, item.actual),
            expected=labels.value(item.field, item.expected),
        )
        for item in found
    ]


class RevisionRule:
    """A run's rule: every contradiction sends a chapter to revision, with notes that say
    what the chapters before it leave; attempts count from the run's first."""

    fresh = False  # True: attempts made before this session do not count against the limit

    def __init__(self, prompts: PromptLibrary, language: str) -> None:
        self.prompts = prompts
        self.language = language
        self.rewrite: dict[int, list[str]] = {}  # chapters written again, and why

    def to_revise(self, chapter: int, found: list[Conflicting]) -> list[Conflicting]:
        """The contradictions of ``chapter`` that call for a revision."""
        return found

    def notes(
        self,
        chapter: int,
        found: list[Conflicting],
        frontier: StoryFrontier,
        slots: Mapping[int, ChapterSlot],
    ) -> list[str]:
        """The revision's notes: one line per contradiction, in the book's language."""
        return revision_notes(found, self.prompts, self.language)


def unresolved_findings(
    chapter: int, found: Sequence[Conflicting], labels: Labels, by_author: bool = False
) -> list[ContinuityFinding]:
    """Contradictions left after the last attempt, as continuity findings for the author
    (``by_author``: the chapter is the author's own text, which is never revised)."""
    key = "author_contradiction_finding" if by_author else "contradiction_finding"
    return [
        ContinuityFinding(
            chapter=chapter,
            kind=_KIND_OF_FIELD.get(item.field, "other"),
            subject=item.key.partition("/")[2],
            detail=labels(
                key,
                chapter=chapter,
                subject=item.key.partition("/")[2],
                field=labels.name("fields", item.field),
                expected=labels.value(item.field, item.expected),
                actual=labels.value(item.field, item.actual),
            ),
        )
        for item in found
    ]
