"""ChapterExtractor: reads a finished chapter and reports what actually happened in it.

The writer writes prose; this agent reads it, with the state as of the chapter,
and returns a ``ChapterReport`` (field changes with end values, threads planted
and paid off, a summary) as a structured reply validated by its pydantic
schema, sent back once with what was wrong when it does not validate. It reads
any text: a writer's, or a chapter the author edited by hand. It may use
another model than the writer (``llm.models.extractor``).
"""

from __future__ import annotations

from typing import Any

from agents.base import BookAgent
from agents.context import state_within
from agents.schemas import ChapterPlan, ChapterReport, ExtractionBrief
from state.models import StoryState

# The most of the extractor's prompt the state may take, in tokens.
STATE_TOKENS = 3000
# What each field's end value must be.
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "alive": (bool,),
    "location": (str,),
    "emotion": (str,),
    "inventory": (list,),
    "knowledge": (list,),
    "relationships": (dict,),
}


class ChapterExtractor(BookAgent):
    """Reports what one chapter's text does to the story state."""

    name = "extractor"

    async def extract(
        self, plan: ChapterPlan, state: StoryState, text: str, attempt: int = 1
    ) -> ChapterReport:
        """What ``text`` (attempt ``attempt`` at chapter ``plan.number``) does, read against
        ``state``."""
        threads = [*plan.plants, *plan.payoffs]
        user = self.prompts.render(
            "extractor",
            self.language,
            number=plan.number,
            total=self.brief.chapters,
            title=plan.title,
            pov=plan.pov,
            setting=plan.setting,
            characters=", ".join(plan.characters),
            plants=", ".join(plan.plants) or "-",
            payoffs=", ".join(plan.payoffs) or "-",
            state=state_within(state, plan.named_characters(), threads, STATE_TOKENS),
            text=text,
        )
        brief = ExtractionBrief(
            plan=plan,
            state=state,
            text=text,
            language=self.brief.language,
            places=self.brief.places(),
            attempt=attempt,
        )
        request = self.request(bible=self.bible, user=user, output=ChapterReport, brief=brief)
        return await self.ask(
            request, ChapterReport, check=lambda report: report_problems(plan, state, report)
        )


def report_problems(plan: ChapterPlan, state: StoryState, report: ChapterReport) -> list[str]:
    """What a valid reply may still get wrong: threads nobody planned, values of the wrong
    shape (an inventory that is not a list, a death that is not ``false``)."""
    problems = []
    known = set(plan.plants) | set(plan.payoffs) | set(state.foreshadowing)
    unknown = sorted((set(report.planted) | set(report.paid_off)) - known)
    if unknown:
        problems.append(f"planted/paid_off name unknown threads {unknown}; known: {sorted(known)}")
    for change in report.changes:
        wanted = FIELD_TYPES.get(change.field)
        if change.character is not None and wanted and not _is(change.new, wanted):
            kinds = " or ".join(t.__name__ for t in wanted)
            problems.append(f"{change.key} {change.field}: new must be a {kinds}")
    return problems


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    return isinstance(value, kinds) and not (bool not in kinds and isinstance(value, bool))
