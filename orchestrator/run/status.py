"""``orchestrator status [RUN]`` and ``orchestrator runs``: how runs stand.

A finished run has ``summary.json``. One that has not finished is running
(its writer, named in ``run.lock``, is alive: also a resume of a run that had
finished, its summary then being the last one's), planned (``plan`` stopped after its
outline, no chapter drafted) or interrupted; its state
store then says which chapters are committed, revised or failed, the outline
how many there are, the call journal what it has spent so far, the log its
retries and errors, and its config (as ``resume --set`` may have changed it)
its budget.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.clients.base import Usage
from agents.clients.journal import JOURNAL_FILE, CallJournal
from agents.prompts import Labels, PromptLibrary
from orchestrator.artifacts.folder import LOCK_FILE, RUN_FILE, SUMMARY_FILE, RunFolder
from orchestrator.project.outline_file import OUTLINE_FILE
from orchestrator.run.incidents import Incidents, run_incidents
from orchestrator.run.reports import read_summary
from orchestrator.run.summary import RunSummary, incidents_line, render_summary
from state import StateError, open_state


@dataclass(frozen=True, slots=True)
class RunStatus:
    """A finished run's summary, or the counts of one that has not finished."""

    run_dir: Path
    summary: RunSummary | None = None
    title: str = ""
    started_at: str = ""
    chapters: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    model_calls: int = 0
    writer: str | None = None  # the live writer's "pid N on HOST"
    store_error: str | None = None  # the store could not be read
    language: str = "en"  # the book's: what status prints is in it
    incidents: Incidents = field(default_factory=Incidents)
    budget_usd: float | None = None  # llm.budget_usd of the run's config, if set
    planned: bool = False  # outline.yaml stored and no chapter drafted (``plan``)

    @property
    def state(self) -> str:
        """finished, failed (finished with failed chapters), running, planned (stopped
        after its outline, for the author to edit it) or interrupted."""
        if self.summary is not None:
            return "finished" if self.summary.exit_code == 0 else "failed"
        if self.writer is not None:
            return "running"
        return "planned" if self.planned and not self.counts else "interrupted"

    @property
    def written(self) -> int:
        if self.summary is not None:
            return self.summary.written
        return sum(n for status, n in self.counts.items() if status != "failed")

    @property
    def cost_usd(self) -> float:
        return self.summary.usage.cost_usd if self.summary is not None else self.usage.cost_usd

    def to_dict(self) -> dict[str, Any]:
        if self.summary is not None:
            return {"state": self.state, **self.summary.model_dump(mode="json")}
        return {
            "state": self.state,
            "run_dir": str(self.run_dir),
            "run_id": self.run_dir.name,
            "title": self.title,
            "started_at": self.started_at,
            "writer": self.writer,
            "chapters": self.chapters,
            "written": self.written,
            "counts": self.counts,
            "model_calls": self.model_calls,
            "usage": self.usage.model_dump(mode="json"),
            "budget": self._budget(),
            "retries_and_errors": self.incidents.model_dump(mode="json"),
            "store_error": self.store_error,
        }

    def _budget(self) -> dict[str, float] | None:
        if self.budget_usd is None:
            return None
        spent = round(self.usage.cost_usd, 6)
        left = round(max(0.0, self.budget_usd - spent), 6)
        return {"limit_usd": self.budget_usd, "spent_usd": spent, "left_usd": left}

    def render(self) -> str:
        """What ``status`` prints, in the book's language."""
        labels = PromptLibrary().labels(self.language)
        if self.summary is not None:
            state = labels.name("status.states", self.state)
            head = labels("status.head", run_dir=self.run_dir, state=state)
            return f"{head}\n{render_summary(self.summary)}"
        if self.writer:
            doing = labels("status.running", writer=self.writer)
        else:
            doing = labels.name("status.states", self.state)
        counts = labels.join(
            [f"{labels.name('status.counts', name)} {n}" for name, n in sorted(self.counts.items())]
        )
        lines = [
            labels("status.head", run_dir=self.run_dir, state=doing),
            labels(
                "status.progress",
                title=self.title,
                written=self.written,
                chapters="?" if self.chapters is None else self.chapters,
                counts=counts,
                calls=self.model_calls,
                tokens=f"{self.usage.input_tokens + self.usage.output_tokens:,}",
                cost=f"{self.usage.cost_usd:.4f}",
            ),
        ]
        lines += ["  " + incidents_line(self.incidents, labels), *self._budget_lines(labels)]
        if self.store_error:
            lines.append(labels("status.store_error", error=self.store_error))
        if self.state == "planned":
            lines.append(labels("status.write", run_dir=self.run_dir))
        elif not self.writer:
            lines.append(labels("status.resume", run_dir=self.run_dir))
        return "\n".join(lines)

    def _budget_lines(self, labels: Labels) -> list[str]:
        budget = self._budget()
        if budget is None:
            return []
        limit, left = f"{budget['limit_usd']:.4f}", f"{budget['left_usd']:.4f}"
        return ["  " + labels("status.budget", limit=limit, left=left)]


async def run_status(run_dir: Path) -> RunStatus:
    """The status of the run in ``run_dir`` (read only: nothing in the folder changes)."""
    folder = RunFolder.existing(run_dir)
    meta = folder.run_meta()
    held = folder.writer()
    summary = read_summary(run_dir)
    if summary is not None and not (held and _resumed_since(folder)):
        return RunStatus(
            folder.root,
            summary=summary,
            started_at=meta.get("started_at", ""),
            language=summary.language,
        )
    calls = CallJournal(folder.path(JOURNAL_FILE)).read(repair=False)
    usage = sum((call["usage"] for call in calls), Usage())
    counts: Counter[str] = Counter()
    chapters, error = None, None
    try:
        async with open_state(folder.store_url(), create=False) as manager:
            records = await manager.chapters()
            outline = await manager.meta("outline")
        counts.update(record.status for record in records.values())
        chapters = None if outline is None else len(outline["chapters"])
    except StateError as exc:
        error = str(exc)
    return RunStatus(
        folder.root,
        title=meta.get("title", ""),
        started_at=meta.get("started_at", ""),
        chapters=chapters,
        counts=dict(counts),
        usage=usage,
        model_calls=len(calls),
        writer=None if held is None else held[0],
        store_error=error,
        language=folder.language(),
        incidents=run_incidents(folder, calls),
        budget_usd=_budget_of(folder),
        planned=chapters is not None and _nothing_drafted(folder),
    )


def _nothing_drafted(folder: RunFolder) -> bool:
    """Whether the run has its outline.yaml and not one draft (``plan`` stopped there)."""
    drafts = folder.path("drafts")
    return folder.path(OUTLINE_FILE).is_file() and not any(drafts.glob("*.md"))


def _resumed_since(folder: RunFolder) -> bool:
    """Whether the run was taken up again after its summary was written (the writer takes
    ``run.lock`` then, and writes itself into it)."""
    try:
        return folder.path(LOCK_FILE).stat().st_mtime > folder.path(SUMMARY_FILE).stat().st_mtime
    except OSError:
        return False


def _budget_of(folder: RunFolder) -> float | None:
    """``llm.budget_usd`` in the run's config (None: none set, or it cannot be read)."""
    try:
        config = yaml.safe_load(folder.path("config.yaml").read_text(encoding="utf-8"))
        value = config["llm"]["budget_usd"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def run_folders(parent: Path) -> list[Path]:
    """The run folders directly under ``parent``, oldest first (by when each started)."""
    if not parent.is_dir():
        return []
    found = [p for p in parent.iterdir() if (p / RUN_FILE).is_file()]
    return sorted(found, key=lambda p: (_started(p), p.name))


def _started(folder: Path) -> str:
    try:
        return str(json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))["started_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
