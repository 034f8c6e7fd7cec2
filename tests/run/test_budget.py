"""The budget stop in a run with revisions: chapters not started are reported, never half done.

The offline model with a price: every call costs a cent (the offline model
itself is free, so nothing would ever stop). Drift makes revisions, so the
budget may run out while revisions wait; whatever it stops, the book stays
consistent: each chapter is kept, or listed as not started and never drafted.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from agents.clients.base import LLMRequest, LLMResponse
from agents.offline.client import OfflineClient
from orchestrator.project.config import ProjectConfig
from tests.run.conftest import RunBook

CALL_USD = 0.01
WORKERS = 2


class PricedOffline:
    """The offline model, at a cent a call."""

    def __init__(self, config: ProjectConfig) -> None:
        self.inner = OfflineClient(seed=config.llm.seed, drift=config.llm.drift)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response = await self.inner.complete(request)
        usage = response.usage.model_copy(update={"cost_usd": CALL_USD})
        return replace(response, usage=usage)


# Each budget is below the plan (1 call) plus 6 chapters at a cent each, so it stops
# whatever revisions the (timing-dependent) drifted run makes: 0.075 would fit a run
# without revisions and not stop.
@pytest.mark.parametrize("budget", [0.035, 0.055, 0.065])
async def test_what_the_budget_stops_is_reported_and_the_rest_is_whole(
    run_book: RunBook, budget: float
) -> None:
    summary, folder, events = await run_book(
        "llm.drift=0.6",
        "llm.seed=3",
        f"orchestrator.workers={WORKERS}",
        f"llm.budget_usd={budget}",
        client=PricedOffline,
    )

    report = summary.budget
    assert report is not None
    assert report.stopped
    assert report.limit_usd == budget
    # Chapters not started fail the run; revisions not made leave findings instead.
    assert summary.exit_code == (1 if report.not_started else 0)
    [stop] = [fields for name, fields in events if name == "budget_stopped"]
    assert stop["chapters"] == report.not_started
    unresolved = {f.chapter for f in summary.findings if f.kind != "other"}
    assert set(stop["revisions"]) <= unresolved
    for outcome in summary.chapter_outcomes:
        if outcome.chapter in report.not_started:
            assert outcome.status == "failed"
            assert outcome.attempts == 0
            assert (outcome.error or "").startswith("not started: the budget")
            assert not list((folder.root / "drafts").glob(f"{outcome.chapter:03d}-*"))
        else:
            assert outcome.status in ("written", "revised")
            assert folder.chapter_path(outcome.chapter).exists()
    assert summary.failed == report.not_started
    # Before the first attempt is paid for its cost is unknown (the offline model is free
    # by the price table), so at most one wave of workers starts on the estimate of 0.
    writing = summary.usage.cost_usd - CALL_USD  # the continuity pass is not stopped
    assert writing <= budget + WORKERS * CALL_USD
    assert report.spent_usd == pytest.approx(summary.usage.cost_usd)
