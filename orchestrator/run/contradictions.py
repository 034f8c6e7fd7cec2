"""What the coordinator does with a chapter whose reads no longer hold.

While attempts remain, the contradictions become the notes of the revision
(``prompts/contradiction.<lang>.md``); after the last attempt they become
continuity findings, so the writer sees them in ``findings.json`` and the
summary instead of finding them in the book.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.prompts import Labels, PromptLibrary
from agents.schemas import ContinuityFinding, FindingKind
from state.models import Conflicting

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


def unresolved_findings(
    chapter: int, found: Sequence[Conflicting], labels: Labels
) -> list[ContinuityFinding]:
    """Contradictions left after the last attempt, as continuity findings for the author."""
    return [
        ContinuityFinding(
            chapter=chapter,
            kind=_KIND_OF_FIELD.get(item.field, "other"),
            subject=item.key.partition("/")[2],
            detail=labels(
                "contradiction_finding",
                chapter=chapter,
                subject=item.key.partition("/")[2],
                field=labels.name("fields", item.field),
                expected=labels.value(item.field, item.expected),
                actual=labels.value(item.field, item.actual),
            ),
        )
        for item in found
    ]
