"""``orchestrator status RUN``: how a run stands, finished or not.

A finished run has ``summary.json``. A run still going (or one that died)
does not; its state store then says which chapters are committed, revised or
failed, and the outline how many there are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.artifacts.folder import RunFolder
from orchestrator.run.reports import read_summary
from orchestrator.run.summary import RunSummary, render_summary
from state import open_state


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A finished run's summary, or the counts of one that has not finished."""

    run_dir: Path
    summary: RunSummary | None = None
    title: str = ""
    chapters: int | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> str:
        if self.summary is None:
            return "running or interrupted"
        return "finished" if self.summary.exit_code == 0 else "finished with failed chapters"

    def to_dict(self) -> dict[str, Any]:
        if self.summary is not None:
            return {"state": self.state, **self.summary.model_dump(mode="json")}
        return {
            "state": self.state,
            "run_dir": str(self.run_dir),
            "title": self.title,
            "chapters": self.chapters,
            "counts": self.counts,
        }

    def render(self) -> str:
        if self.summary is not None:
            return f"{self.run_dir}: {self.state}\n{render_summary(self.summary)}"
        total = "?" if self.chapters is None else str(self.chapters)
        counts = ", ".join(f"{name} {n}" for name, n in sorted(self.counts.items())) or "none yet"
        return f"{self.run_dir}: {self.state}\n{self.title}: {total} chapters; {counts}"


async def run_status(run_dir: Path) -> RunStatus:
    """The status of the run in ``run_dir``."""
    folder = RunFolder.existing(run_dir)
    meta = folder.run_meta()
    summary = read_summary(run_dir)
    if summary is not None:
        return RunStatus(run_dir, summary=summary)
    async with open_state(folder.store_url(), create=False) as manager:
        records = await manager.chapters()
        outline = await manager.meta("outline")
    counts: Counter[str] = Counter(record.status for record in records.values())
    chapters = None if outline is None else len(outline["chapters"])
    return RunStatus(run_dir, title=meta.get("title", ""), chapters=chapters, counts=dict(counts))
