"""What a run did, as ``summary.json`` and the last lines on the terminal."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.clients.base import Usage
from agents.prompts import Labels, PromptLibrary
from agents.schemas import ContinuityFinding
from orchestrator.review.writing import WritingFigures
from orchestrator.run.incidents import Incidents, ReasonCount
from orchestrator.run.spending import BudgetReport
from state.models import UtcTime

ChapterStatus = Literal["written", "revised", "edited", "failed"]  # edited: the author's text


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
    continuations: int = Field(default=0, description="replies that continued the kept attempt")
    stop_reason: str | None = Field(default=None, description="why its last reply ended")


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
    edited: int = Field(default=0, description="chapters whose kept text is the author's own")
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
    writing: WritingFigures | None = Field(
        default=None, description="figures about the writing (none in runs before they were)"
    )
    retries_and_errors: Incidents = Field(
        default_factory=Incidents, description="by reason, over every process of the run"
    )
    state_events: list[dict[str, Any]] = Field(
        default_factory=list,
        description="state store thresholds crossed and migrations, when and what was done",
    )

    @property
    def exit_code(self) -> int:
        """0 when every chapter is written, 1 when some failed (the others are kept)."""
        return 1 if self.failed else 0


def render_summary(summary: RunSummary) -> str:
    """The short summary printed at the end of a run (and by ``orchestrator status``), in the
    book's language."""
    labels = PromptLibrary().labels(summary.language)
    usage = summary.usage
    lines = [
        labels(
            "summary.book",
            title=summary.title,
            written=summary.written,
            chapters=summary.chapters,
            revised=summary.revised,
            edited=labels("summary.edited", n=summary.edited) if summary.edited else "",
            failed=labels.join([str(n) for n in summary.failed]),
            count=labels.count(summary.words),
            seconds=f"{summary.wall_s:.1f}",
        ),
        "  "
        + labels(
            "summary.calls",
            calls=summary.model_calls,
            critical=summary.critical_path_calls,
            input=f"{usage.input_tokens:,}",
            output=f"{usage.output_tokens:,}",
            cache_write=f"{usage.cache_write_tokens:,}",
            cache_read=f"{usage.cache_read_tokens:,}",
            cost=f"{usage.cost_usd:.4f}",
        ),
        *_budget_lines(summary, labels),
        *_writing_lines(summary, labels),
        "  " + incidents_line(summary.retries_and_errors, labels),
        "  " + labels("summary.findings", n=len(summary.findings)),
    ]
    lines += [
        "    "
        + labels(
            "summary.finding",
            chapter=f.chapter,
            kind=labels.name("finding_kinds", f.kind),
            detail=f.detail,
        )
        for f in summary.findings[:5]
    ]
    if len(summary.findings) > 5:
        lines.append("    " + labels("summary.more_findings", n=len(summary.findings) - 5))
    lines += [f"  {name:<12}{path}" for name, path in summary.paths.items()]
    return "\n".join(lines)


def _writing_lines(summary: RunSummary, labels: Labels) -> list[str]:
    book = summary.writing.book if summary.writing else None
    if book is None or not book.chapters:
        return []
    line = labels(
        "summary.writing",
        score=f"{book.length_score:.1f}",
        repeated=f"{book.repeated_pct:.1f}",
        overused=f"{book.overused_per_10k:.1f}",
        continuations=book.continuations,
    )
    return ["  " + line]


def _budget_lines(summary: RunSummary, labels: Labels) -> list[str]:
    budget = summary.budget
    if budget is None:
        return []
    line = labels(
        "summary.budget", limit=f"{budget.limit_usd:.4f}", spent=f"{budget.spent_usd:.4f}"
    )
    if budget.not_started:
        line += labels(
            "summary.budget_not_started", chapters=labels.join([str(n) for n in budget.not_started])
        )
    elif budget.stopped:
        line += labels("summary.budget_revisions")
    return ["  " + line]


def incidents_line(incidents: Incidents, labels: Labels) -> str:
    """Retries (by reason, with the time waited) and errors (by reason), in one line."""

    def reasons(rows: list[ReasonCount]) -> str:
        return labels.join([labels("summary.reason", reason=r.reason, n=r.count) for r in rows])

    if incidents.retries:
        retries = labels(
            "summary.retries",
            n=incidents.retry_count,
            reasons=reasons(incidents.retries),
            seconds=f"{incidents.waited_s:.1f}",
        )
    else:
        retries = labels("summary.no_retries")
    if incidents.errors:
        errors = labels(
            "summary.errors", n=incidents.error_count, reasons=reasons(incidents.errors)
        )
    else:
        errors = labels("summary.no_errors")
    return labels("summary.incidents", retries=retries, errors=errors)
