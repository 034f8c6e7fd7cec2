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

from orchestrator.run.summary import RunSummary, numbers_text, render_summary

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

    def line(self, tokens: int) -> str:
        elapsed = time.monotonic() - self.started
        return (
            f"{self.stage}: queued {self.queued} · writing {self.writing} · "
            f"revising {self.revising} · done {self.final}/{self.chapters} · "
            f"failed {self.failed} · revisions {self.revisions} · "
            f"tokens {tokens:,} · {elapsed:.1f} s"
        )


class Display:
    """The base display: keeps counts, shows nothing."""

    def __init__(self, tokens: TokenCount = lambda: 0) -> None:
        self.progress = RunProgress()
        self.tokens = tokens

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
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
        "run_started",
        "planned",
        "chapter_committed",
        "chapter_revision",
        "chapter_failed",
        "budget_stopped",
    )

    def __init__(self, tokens: TokenCount = lambda: 0, console: Console | None = None) -> None:
        super().__init__(tokens)
        self.console = console or Console(stderr=True, highlight=False)

    def show(self, event: str, fields: dict[str, Any]) -> None:
        if event in self.NOTABLE or event == "reviewed":
            self.console.print(
                describe(event, fields), markup=False, highlight=False, soft_wrap=True
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
        return Group(self.bar, Text(self.progress.line(self.tokens()), style="dim"))

    def show(self, event: str, fields: dict[str, Any]) -> None:
        if event in (
            "chapter_revision",
            "chapter_failed",
            "run_started",
            "reviewed",
            "budget_stopped",
        ):
            self.console.print(
                describe(event, fields), markup=False, highlight=False, soft_wrap=True
            )
        total = self.progress.chapters or None
        self.bar.update(
            self.task, total=total, completed=self.progress.final + self.progress.failed
        )
        self.live.update(self._render())

    def close(self) -> None:
        self.live.stop()


def describe(event: str, fields: dict[str, Any]) -> str:
    """One readable line for an event."""
    if event == "run_started":
        return f"run {fields['run_id']}  ({fields['chapters']} chapters) -> {fields['run_dir']}"
    if event == "planned":
        return f"outline: {fields['chapters']} chapters, {fields['threads']} foreshadowing threads"
    if event == "chapter_committed":
        kind = "written" if fields["attempt"] == 1 else f"revised (attempt {fields['attempt']})"
        return f"chapter {fields['chapter']} {kind}: {fields['words']:,} words"
    if event == "chapter_revision":
        reasons = "; ".join(fields["reasons"][:2])
        return f"chapter {fields['chapter']} will be revised: {reasons}"
    if event == "chapter_failed":
        return (
            f"chapter {fields['chapter']} failed (attempt {fields['attempt']}): {fields['error']}"
        )
    if event == "reviewed":
        return f"continuity pass: {fields['findings']} findings"
    if event == "budget_stopped":
        stopped = (
            [f"chapters {numbers_text(fields['chapters'])} not started"]
            if fields["chapters"]
            else []
        )
        if fields["revisions"]:
            stopped.append(f"revisions of chapters {numbers_text(fields['revisions'])} not made")
        return f"{fields['reason']}: {'; '.join(stopped)}"
    return event


def make_display(*, quiet: bool, as_json: bool, tokens: TokenCount) -> Display:
    """The display for the flags and for whether stderr is a terminal."""
    if as_json:
        return JsonDisplay(tokens)
    if quiet:
        return QuietDisplay(tokens)
    if sys.stderr.isatty():
        return LiveDisplay(tokens)
    return PlainDisplay(tokens)
