"""Continuity rules checked in code: the foreshadowing ledger and the dead staying dead.

These need no model: they compare the outline's intentions with the final
state. The continuity editor adds what only reading the chapters can find.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agents.schemas import ContinuityFinding, FindingKind, Outline
from state.models import CHARACTERS, FieldChange, Foreshadowing, StoryState


def rule_findings(
    outline: Outline, summaries: Mapping[int, str], state: StoryState
) -> list[ContinuityFinding]:
    """Every rule finding, for a book whose written chapters are the keys of ``summaries``."""
    last = max(summaries, default=0)
    return ledger_findings(outline, state, last) + dead_on_stage_findings(outline, state)


def death_chapters(outline: Outline) -> dict[str, int]:
    """Character -> the chapter the outline kills them in."""
    deaths: dict[str, int] = {}
    for plan in outline.chapters:
        for change in plan.changes:
            if change.character and change.field == "alive" and change.new is False:
                deaths.setdefault(change.character, plan.number)
    return deaths


def committed_deaths(changes: Mapping[int, Iterable[FieldChange]]) -> dict[str, int]:
    """Character -> the chapter whose committed changes kill them (what was written,
    which may differ from the outline's plan)."""
    deaths: dict[str, int] = {}
    for chapter in sorted(changes):
        for change in changes[chapter]:
            kind, _, name = change.key.partition("/")
            if kind == CHARACTERS and change.field == "alive" and change.new is False:
                deaths.setdefault(name, chapter)
    return deaths


def ledger_findings(outline: Outline, state: StoryState, last: int) -> list[ContinuityFinding]:
    """Threads never planted, planted and never paid off by their due chapter, or out of order.

    Only chapters up to ``last`` (the last one written) can owe anything.
    """
    plants = outline.plant_chapters()
    findings: list[ContinuityFinding] = []
    for ident, thread in sorted(state.foreshadowing.items()):
        findings += _thread_findings(ident, thread, plants.get(ident), last)
    return findings


def _thread_findings(
    ident: str, thread: Foreshadowing, plant_at: int | None, last: int
) -> list[ContinuityFinding]:
    name = f"thread {ident!r} ({thread.description or ident})"
    due = thread.payoff_due
    if thread.status == "planned" and plant_at is not None and plant_at <= last:
        detail = f"{name} was to be planted in chapter {plant_at} but never was"
        return [_finding(plant_at, "foreshadowing_unplanted", ident, detail)]
    if thread.status == "planted" and due is not None and due <= last:
        detail = f"{name} was planted in chapter {thread.planted_in} but never paid off (due {due})"
        return [_finding(due, "foreshadowing_unpaid", ident, detail)]
    paid, planted = thread.paid_off_in, thread.planted_in
    if thread.status == "paid_off" and paid is not None and planted is not None and paid <= planted:
        detail = f"{name} is paid off in chapter {paid}, before it is planted in chapter {planted}"
        return [_finding(paid, "foreshadowing_order", ident, detail)]
    if thread.status == "paid_off" and paid is not None and due is not None and paid > due:
        detail = f"{name} is paid off in chapter {paid}, after its due chapter {due}"
        return [_finding(paid, "foreshadowing_unpaid", ident, detail)]
    return []


def dead_on_stage_findings(outline: Outline, state: StoryState) -> list[ContinuityFinding]:
    """Characters dead in the final state whom the outline puts on stage after their death."""
    findings = []
    deaths = death_chapters(outline)
    for name, person in state.characters.items():
        died = deaths.get(name)
        if person.alive or died is None:
            continue
        for plan in outline.chapters[died:]:
            if name in plan.characters:
                detail = f"{name} dies in chapter {died} but is on stage in chapter {plan.number}"
                findings.append(_finding(plan.number, "dead_character", name, detail))
    return findings


def merge_findings(*groups: Iterable[ContinuityFinding]) -> list[ContinuityFinding]:
    """Findings in chapter order, one per (chapter, kind, subject)."""
    seen: dict[tuple[int, str, str], ContinuityFinding] = {}
    for group in groups:
        for finding in group:
            seen.setdefault((finding.chapter, finding.kind, finding.subject), finding)
    return sorted(seen.values(), key=lambda f: (f.chapter, f.kind, f.subject))


def _finding(chapter: int, kind: FindingKind, subject: str, detail: str) -> ContinuityFinding:
    return ContinuityFinding(chapter=max(1, chapter), kind=kind, subject=subject, detail=detail)
