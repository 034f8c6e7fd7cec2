"""How the offline model reviews a book: it reads the summaries for the dead acting.

A real model reads the chapters for any contradiction; the offline model does
the one reading it can do honestly: a character who died (in the chapter the
committed story kills them in, else the one the outline does) and who is still
named in a later chapter's summary.
"""

from __future__ import annotations

from agents.continuity import death_chapters
from agents.schemas import ContinuityFinding, ContinuityReport, ReviewBrief


def review_book(brief: ReviewBrief) -> ContinuityReport:
    """Findings of dead characters named after their death chapter."""
    findings = []
    # What was written counts over what was planned: a death the outline did not plan,
    # or made in another chapter, is where the story has it.
    deaths = {**death_chapters(brief.outline), **brief.deaths}
    for name, died in sorted(deaths.items()):
        person = brief.state.characters.get(name)
        if person is None or person.alive:
            continue
        for chapter, summary in sorted(brief.summaries.items()):
            if chapter > died and name in summary:
                detail = (
                    f"{name} died in chapter {died}, yet chapter {chapter}'s summary names them"
                )
                findings.append(
                    ContinuityFinding(
                        chapter=chapter, kind="dead_character", subject=name, detail=detail
                    )
                )
    return ContinuityReport(findings=findings)
