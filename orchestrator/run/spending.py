"""The spending limit of a run (``llm.budget_usd``): no chapter starts that the budget cannot pay.

Before a chapter attempt starts, the money already spent, plus an estimate
for every attempt in flight and for the new one, must stay within the
budget. The estimate of an attempt is what attempts have cost so far on
average; before any has finished, it is the price of a full writer prompt
(``orchestrator.context_tokens`` of input) and a chapter's worth of output
(two tokens a word of ``target_words``, plus room for the report, at most
``max_tokens``), which leans high. Chapters the budget stops are reported,
not written; the continuity pass still runs (one call) when a chapter was
written. A resumed run counts what the processes before it spent
(``model_calls.jsonl``): the budget is the whole run's, and ``resume --set
llm.budget_usd=MORE`` gives a stopped run more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from agents.clients.base import Usage
from agents.clients.pricing import PriceTable
from orchestrator.project.briefs import context_budget
from orchestrator.project.config import ProjectConfig

TOKENS_PER_WORD = 2
REPORT_TOKENS = 300  # the summary and changes the extractor reports


class BudgetReport(BaseModel):
    """What the summary says about the budget."""

    model_config = ConfigDict(extra="forbid")

    limit_usd: float
    spent_usd: float
    stopped: bool = False
    not_started: list[int] = []


@dataclass
class SpendingLimit:
    """How many chapter attempts may start now; ``limit_usd`` None means no limit."""

    limit_usd: float | None = None
    spent: Callable[[], float] = lambda: 0.0
    attempt_costs: Callable[[], Sequence[float]] = tuple
    first_estimate_usd: float = 0.0
    stopped: bool = False
    not_started: list[int] = field(default_factory=list)

    def estimate(self) -> float:
        """The expected cost of one chapter attempt."""
        costs = self.attempt_costs()
        return sum(costs) / len(costs) if costs else self.first_estimate_usd

    def room(self, running: int) -> int | None:
        """How many more attempts may start with ``running`` in flight (None: no limit)."""
        estimate = self.estimate()
        if self.limit_usd is None or estimate <= 0:
            return None
        left = self.limit_usd - self.spent() - running * estimate
        # The epsilon forgives float sums landing a hair under an exact fit.
        return max(0, math.floor(left / estimate + 1e-9))

    def stop(self, chapters: Sequence[int]) -> str:
        """Record that nothing more starts, ``chapters`` never did; the reason, in words."""
        self.stopped = True
        self.not_started.extend(chapters)
        return (
            f"the budget of ${self.limit_usd:.4f} would be passed "
            f"(spent ${self.spent():.4f}, about ${self.estimate():.4f} a chapter)"
        )

    def report(self) -> BudgetReport | None:
        """The budget's lines in the summary (None without a budget)."""
        if self.limit_usd is None:
            return None
        return BudgetReport(
            limit_usd=self.limit_usd,
            spent_usd=round(self.spent(), 6),
            stopped=self.stopped,
            not_started=sorted(self.not_started),
        )


def first_attempt_estimate(config: ProjectConfig, prices: PriceTable) -> float:
    """The cost of a chapter attempt before any has been paid for (see the module doc)."""
    prose = min(config.llm.max_tokens, TOKENS_PER_WORD * config.project.target_words)
    # The writer's prompt and prose, then the extractor reading that prose and reporting.
    usage = Usage(
        input_tokens=context_budget(config).total + prose,
        output_tokens=prose + REPORT_TOKENS,
    )
    return prices.cost(config.llm.model_for("writer"), usage)
