"""Bible: a premise in; the cast with their starting state and the world notes out.

A project may give only a premise. The bible agent proposes what a hand-written
project file would hold under ``characters`` and ``world``; the run writes it to
the run folder as YAML the author can edit before the book is planned.
"""

from __future__ import annotations

from agents.base import Agent
from agents.render import bullets
from agents.schemas import BibleBrief, StoryBible


class BibleWriter(Agent):
    """Proposes the story bible of a project that has no cast."""

    name = "bible"

    async def propose(self, brief: BibleBrief) -> StoryBible:
        """The cast and world notes, checked as a hand-written cast is (``StoryBible``)."""
        user = self.prompts.render(
            "bible_request",
            self.language,
            title=brief.title,
            chapters=brief.chapters,
            genre=brief.genre or "-",
            premise=brief.premise.strip(),
            world=bullets(brief.world) or "-",
        )
        # No bible to cache yet: the premise is the whole of what is shared.
        request = self.request(
            bible=brief.premise.strip(), user=user, output=StoryBible, brief=brief
        )
        return await self.ask(request, StoryBible)
