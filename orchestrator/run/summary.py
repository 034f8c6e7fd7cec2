"""What a run did, as ``summary.json`` and the last lines on the terminal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.clients.base import Usage
from agents.schemas import ContinuityFinding
from orchestrator.run.spending import BudgetReport
from state.models import UtcTime

ChapterStatus = Literal["written", "revised", "failed"]


class ChapterOutcome(BaseModel):
    """One chapter at the end of a run."""

    model_config = ConfigDict(extra="forbid")

    chapter: int
    title: str
    status: ChapterStatus
    attempts: int = Field(description="attempts started, the kept one included")
    kept_attempt: int | None
    words: int = 0
    prompt_tokens: int = 0
    error: str | None = None
    usage: Usage = Field(default_factory=Usage, description="every call for it, all attempts")


class RunSummary(BaseModel):
    """The outcome of one run (``summary.json``)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    title: str
    language: str
    run_dir: str
    state_url: str
    started_at: UtcTime
    finished_at: UtcTime
    wall_s: float
    chapters: int
    written: int = Field(description="chapters with a kept attempt")
    revised: int = Field(description="chapters whose kept attempt is a revision")
    failed: list[int]
    revisions: int = Field(description="attempts beyond the first, over all chapters")
    words: int
    usage: Usage
    model_calls: int
    critical_path_calls: int
    findings: list[ContinuityFinding]
    outline_source: Literal["planner", "config"]
    paths: dict[str, str]
    chapter_outcomes: list[ChapterOutcome]
    budget: BudgetReport | None = Field(default=None, description="llm.budget_usd, if set")
    state_events: list[dict[str, Any]] = Field(
        default_factory=list,
        description="state store thresholds crossed and migrations, when and what was done",
    )

    @property
    def exit_code(self) -> int:
        """0 when every chapter is written, 1 when some failed (the others are kept)."""
        return 1 if self.failed else 0


def render_summary(summary: RunSummary) -> str:
    """The short summary printed at the end of a run (and by ``orchestrator status``)."""
    usage = summary.usage
    failed = ", ".join(str(n) for n in summary.failed) or "none"
    lines = [
        f"{summary.title}: {summary.written}/{summary.chapters} chapters written "
        f"({summary.revised} revised, failed: {failed}), {summary.words:,} words, "
        f"{summary.wall_s:.1f} s",
        f"  model calls {summary.model_calls} (critical path {summary.critical_path_calls}), "
        f"tokens in {usage.input_tokens:,} out {usage.output_tokens:,} "
        f"cache write {usage.cache_write_tokens:,} read {usage.cache_read_tokens:,}, "
        f"cost ${usage.cost_usd:.4f}",
        *_budget_lines(summary),
        f"  continuity findings {len(summary.findings)}",
    ]
    lines += [f"    ch {f.chapter} {f.kind}: {f.detail}" for f in summary.findings[:5]]
    if len(summary.findings) > 5:
        lines.append(f"    ... and {len(summary.findings) - 5} more in findings.json")
    lines += [f"  {name:<12}{path}" for name, path in summary.paths.items()]
    return "\n".join(lines)


def numbers_text(numbers: list[int]) -> str:
    """``1, 2, 5``: chapter numbers as a summary line lists them."""
    return ", ".join(str(n) for n in numbers)


def _budget_lines(summary: RunSummary) -> list[str]:
    budget = summary.budget
    if budget is None:
        return []
    line = f"  budget ${budget.limit_usd:.4f}: spent ${budget.spent_usd:.4f}"
    if budget.not_started:
        line += f", stopped before chapters {numbers_text(budget.not_started)}"
    elif budget.stopped:
        line += ", stopped before the revisions still to make"
    return [line]
