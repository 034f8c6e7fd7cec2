"""What a run did, as ``summary.json`` and the last lines on the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.clients.base import Usage
from agents.schemas import ContinuityFinding
from orchestrator.run.spending import BudgetReport

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
    started_at: datetime
    finished_at: datetime
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
