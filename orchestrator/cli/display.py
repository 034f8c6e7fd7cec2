"""What a run shows while it works: a live panel on a terminal, plain lines otherwise.

Every display is an observer of the coordinator's events (see
``Coordinator.emit``). ``--json`` prints each event as a JSON line on stdout
and the summary as the last line; ``--quiet`` prints only the run folder.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from agents.prompts import Labels, PromptLibrary
from orchestrator.run.summary import RunSummary, render_summary

TokenCount = Callable[[], int]


@dataclass
class RunProgress:
    """Counts kept from the events of one run."""

    chapters: int = 0
    writing: int = 0
    revising: int = 0
    final: int = 0
    failed: int = 0
    revisions: int = 0
    started: float = field(default_factory=time.monotonic)
    stage: str = "starting"
    _attempts: dict[int, int] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return max(0, self.chapters - self.writing - self.revising - self.final - self.failed)

    def update(self, event: str, fields: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{event}", None)
        if handler is not None:
            handler(fields)

    def _on_run_started(self, fields: dict[str, Any]) -> None:
        self.chapters = fields["chapters"]
        self.stage = "planning"

    def _on_planned(self, fields: dict[str, Any]) -> None:
        self.chapters = fields["chapters"]
        self.stage = "writing"

    def _on_chapter_started(self, fields: dict[str, Any]) -> None:
        attempt = fields["attempt"]
        self._attempts[fields["chapter"]] = attempt
        if attempt > 1:
            self.revising += 1
            self.revisions += 1
        else:
            self.writing += 1

    def _end_attempt(self, chapter: int) -> None:
        if self._attempts.pop(chapter, 1) > 1:
            self.revising -= 1
        else:
            self.writing -= 1

    def _on_chapter_committed(self, fields: dict[str, Any]) -> None:
        self._end_attempt(fields["chapter"])

    def _on_chapter_failed(self, fields: dict[str, Any]) -> None:
        self._end_attempt(fields["chapter"])
        if fields["attempt"] == 1:
            self.failed += 1

    def _on_chapter_final(self, fields: dict[str, Any]) -> None:
        self.final += 1

    def _on_reviewing(self, fields: dict[str, Any]) -> None:
        self.stage = "continuity pass"

    def _on_reviewed(self, fields: dict[str, Any]) -> None:
        self.stage = "assembling"

    def line(self, tokens: int, labels: Labels) -> str:
        return labels(
            "progress",
            stage=labels.name("stages", self.stage),
            queued=self.queued,
            writing=self.writing,
            revising=self.revising,
            done=self.final,
            chapters=self.chapters,
            failed=self.failed,
            revisions=self.revisions,
            tokens=f"{tokens:,}",
            seconds=f"{time.monotonic() - self.started:.1f}",
        )


class Display:
    """The base display: keeps counts, shows nothing."""

    def __init__(self, tokens: TokenCount = lambda: 0) -> None:
        self.progress = RunProgress()
        self.tokens = tokens
        self.prompts = PromptLibrary()
        self.labels = self.prompts.labels("en")

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        if event in ("bible_written", "run_started", "run_resumed") and "language" in fields:
            self.labels = self.prompts.labels(fields["language"])  # the book's, from here on
        self.progress.update(event, fields)
        self.show(event, fields)

    def show(self, event: str, fields: dict[str, Any]) -> None:
        """Show one event (nothing here)."""

    def close(self) -> None:
        """Stop any live output."""

    def finish(self, summary: RunSummary) -> None:
        """Show the outcome."""


class QuietDisplay(Display):
    """Only the run folder, on stdout, at the end."""

    def finish(self, summary: RunSummary) -> None:
        sys.stdout.write(summary.run_dir + "\n")


class JsonDisplay(Display):
    """Every event as a JSON line on stdout; the summary last."""

    def __init__(self, tokens: TokenCount = lambda: 0, out: TextIO | None = None) -> None:
        super().__init__(tokens)
        self.out = out or sys.stdout

    def show(self, event: str, fields: dict[str, Any]) -> None:
        self.out.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")
        self.out.flush()

    def finish(self, summary: RunSummary) -> None:
        record = {"event": "summary", **summary.model_dump(mode="json")}
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")


class PlainDisplay(Display):
    """A line per notable event on stderr (for logs and pipes), the summary on stdout."""

    NOTABLE = (
        "bible_written",
        "run_started",
        "run_resumed",
        "planned",
        "chapter_committed",
        "chapter_revision",
        "chapter_failed",
        "budget_stopped",
        "config_changed",
        "no_budget",
        "outline_stored",
    )

    def __init__(self, tokens: TokenCount = lambda: 0, console: Console | None = None) -> None:
        super().__init__(tokens)
        self.console = console or Console(stderr=True, highlight=False)

    def show(self, event: str, fields: dict[str, Any]) -> None:
        if event in self.NOTABLE or event == "reviewed":
            self.console.print(
                describe(event, fields, self.labels), markup=False, highlight=False, soft_wrap=True
            )

    def finish(self, summary: RunSummary) -> None:
        sys.stdout.write(render_summary(summary) + "\n")


class LiveDisplay(PlainDisplay):
    """A live panel on a terminal: a progress bar and the counts; notable events above it."""

    def __init__(self, tokens: TokenCount = lambda: 0, console: Console | None = None) -> None:
        super().__init__(tokens, console)
        self.bar = Progress(
            TextColumn("[bold]chapters"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.task = self.bar.add_task("chapters", total=None)
        self.live = Live(self._render(), console=self.console, refresh_per_second=8)
        self.live.start()

    def _render(self) -> Group:
        return Group(self.bar, Text(self.progress.line(self.tokens(), self.labels), style="dim"))

    def show(self, event: str, fields: dict[str, Any]) -> None:
        if event in (
            "bible_written",
            "chapter_revision",
            "chapter_failed",
            "run_started",
            "run_resumed",
            "reviewed",
            "budget_stopped",
            "config_changed",
            "no_budget",
            "outline_stored",
        ):
            self.console.print(
                describe(event, fields, self.labels), markup=False, highlight=False, soft_wrap=True
            )
        total = self.progress.chapters or None
        self.bar.update(
            self.task, total=total, completed=self.progress.final + self.progress.failed
        )
        self.live.update(self._render())

    def close(self) -> None:
        self.live.stop()


def describe(event: str, fields: dict[str, Any], labels: Labels) -> str:
    """One readable line for an event, in the book's language."""
    if event in ("bible_written", "run_started", "run_resumed", "planned", "reviewed", "no_budget"):
        return labels(f"events.{event}", **fields)
    if event == "outline_stored":
        return labels("outline_file.stored", **fields)
    if event == "chapter_committed":
        count = labels.count(fields["words"])
        if fields["attempt"] == 1:
            return labels("events.written", chapter=fields["chapter"], count=count)
        return labels(
            "events.revised", chapter=fields["chapter"], attempt=fields["attempt"], count=count
        )
    if event == "chapter_revision":
        reasons = labels.join(list(fields["reasons"][:2]))
        return labels("events.revision", chapter=fields["chapter"], reasons=reasons)
    if event == "chapter_failed":
        return labels("events.failed", **fields)
    if event == "config_changed":
        changes = [f"{c['field']} {c['from']} -> {c['to']}" for c in fields["changed"]]
        return labels("events.config_changed", changes=labels.join(changes))
    if event == "budget_stopped":
        stopped = []
        if fields["chapters"]:
            stopped.append(
                labels("events.not_started", chapters=_numbers(fields["chapters"], labels))
            )
        if fields["revisions"]:
            revisions = _numbers(fields["revisions"], labels)
            stopped.append(labels("events.revisions_not_made", chapters=revisions))
        return f"{fields['reason']}: {'; '.join(stopped)}"
    return event


def _numbers(numbers: list[int], labels: Labels) -> str:
    return labels.join([str(n) for n in numbers])


def make_display(*, quiet: bool, as_json: bool, tokens: TokenCount) -> Display:
    """The display for the flags and for whether stderr is a terminal."""
    if as_json:
        return JsonDisplay(tokens)
    if quiet:
        return QuietDisplay(tokens)
    if sys.stderr.isatty():
        return LiveDisplay(tokens)
    return PlainDisplay(tokens)
