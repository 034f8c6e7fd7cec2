"""ContinuityEditor: what is still inconsistent once the book is written."""

from __future__ import annotations

from collections.abc import Mapping

from agents.base import BookAgent
from agents.continuity import merge_findings, rule_findings
from agents.render import render_plan_outline, render_state
from agents.schemas import ContinuityFinding, ContinuityReport, Outline, ReviewBrief
from state.models import StoryState


class ContinuityEditor(BookAgent):
    """Checks the ledger and the dead in code, then asks a model what else contradicts."""

    name = "editor"

    async def review(
        self,
        outline: Outline,
        summaries: Mapping[int, str],
        final_state: StoryState,
        deaths: Mapping[str, int] | None = None,
    ) -> list[ContinuityFinding]:
        """Findings in chapter order: the rules' and the model's, without duplicates.

        ``deaths``: the chapter the committed story kills each character in
        (``committed_deaths``), where it may differ from the outline's plan.
        """
        known = rule_findings(outline, summaries, final_state)
        recap = "\n".join(
            self.prompts.render("recap", self.language, number=n, summary=summaries[n].strip())
            for n in sorted(summaries)
        )
        user = self.prompts.render(
            "editor",
            self.language,
            outline=render_plan_outline(outline.chapters, self.prompts.labels(self.language)),
            summaries=recap or "-",
            state=render_state(final_state, threads=list(final_state.foreshadowing)),
            known="\n".join(f"- {f.chapter}: {f.kind}: {f.detail}" for f in known) or "-",
        )
        brief = ReviewBrief(
            outline=outline,
            summaries=dict(summaries),
            state=final_state,
            language=self.brief.language,
            known=known,
            deaths=dict(deaths or {}),
        )
        request = self.request(bible=self.bible, user=user, output=ContinuityReport, brief=brief)
        total = len(outline.chapters)
        report = await self.ask(request, ContinuityReport, check=lambda r: _out_of_range(r, total))
        return merge_findings(known, report.findings)


def _out_of_range(report: ContinuityReport, chapters: int) -> list[str]:
    return [
        f"finding for chapter {f.chapter}, but the book has {chapters} chapters"
        for f in report.findings
        if f.chapter > chapters
    ]
