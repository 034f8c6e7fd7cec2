"""Planner: premise, cast and chapter count in; an Outline of ChapterPlans out."""

from __future__ import annotations

from agents.base import Agent
from agents.render import bullets, render_bible, render_state
from agents.schemas import Outline, ProjectBrief


class Planner(Agent):
    """Turns the premise into an outline: beats, POV, cast, intended changes, foreshadowing."""

    name = "planner"

    async def plan(self, brief: ProjectBrief) -> Outline:
        """The outline of the whole book, checked against the cast and the chapter count."""
        user = self.prompts.render(
            "planner",
            self.language,
            title=brief.title,
            chapters=brief.chapters,
            target_words=brief.target_words,
            premise=brief.premise.strip(),
            places=bullets(brief.places()) or "-",
            state=render_state(brief.initial),
        )
        request = self.request(
            bible=render_bible(self.prompts, brief), user=user, output=Outline, brief=brief
        )
        names = [sheet.name for sheet in brief.characters]
        return await self.ask(
            request, Outline, check=lambda outline: outline.problems_with(names, brief.chapters)
        )
