"""ArcWriter: a model's summary of a finished stretch of the book, for later writers.

Writers far into a book see older chapters as arc summaries (``agents.context``).
Without a model those are extractive (the first sentence of each chapter's
summary); with one, this agent writes each arc once, as plain prose, from the
chapter summaries of the stretch. The coordinator keeps what it writes in the
store, so an arc is written once per run, and again only when a chapter in it
changes.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents.base import Agent
from agents.clients.base import LLMRequest, Message, SystemBlock
from agents.errors import AgentFailedError
from agents.schemas import ArcBrief
from agents.tokens import truncate_to_tokens


class ArcWriter(Agent):
    """Summarizes chapters ``first`` to ``last`` of a book in a short paragraph."""

    name = "summarizer"

    async def summarize(
        self, first: int, last: int, summaries: Mapping[int, str], max_tokens: int
    ) -> str:
        """The arc of chapters ``first``..``last`` within ``max_tokens`` (AgentFailedError when
        the model gives no text)."""
        recaps = "\n".join(
            self.prompts.render("recap", self.language, number=n, summary=summaries[n].strip())
            for n in sorted(summaries)
        )
        user = self.prompts.render(
            "arc_summary",
            self.language,
            first=first,
            last=last,
            words=max(20, max_tokens // 2) if self.language == "en" else max(40, max_tokens),
            summaries=recaps,
        )
        request = LLMRequest(
            agent=self.name,
            model=self.settings.model,
            system=(SystemBlock(self.instructions()),),
            messages=(Message("user", user),),
            max_tokens=max(256, max_tokens * 2),
            temperature=self.settings.temperature,
            brief=ArcBrief(
                first=first, last=last, summaries=dict(summaries), language=self.language
            ),
        )
        tries = max(1, self.settings.attempts)
        for _ in range(tries):
            text = (await self.client.complete(request)).text.strip()
            if text:
                return truncate_to_tokens(" ".join(text.split()), max_tokens)
        raise AgentFailedError(self.name, tries, ["the reply held no summary"])
