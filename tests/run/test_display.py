"""The displays: counts kept from events, a live panel on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from agents.prompts import PromptLibrary
from orchestrator.cli.display import LiveDisplay, PlainDisplay, RunProgress

EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("run_started", {"run_id": "r", "run_dir": "/runs/r", "chapters": 3}),
    ("planned", {"chapters": 3, "threads": 1}),
    ("chapter_started", {"chapter": 1, "attempt": 1}),
    ("chapter_started", {"chapter": 2, "attempt": 1}),
    ("chapter_committed", {"chapter": 1, "attempt": 1, "words": 900, "prompt_tokens": 10}),
    ("chapter_final", {"chapter": 1, "unresolved": 0}),
    ("chapter_committed", {"chapter": 2, "attempt": 1, "words": 800, "prompt_tokens": 10}),
    ("chapter_revision", {"chapter": 2, "reasons": ["Mara: moved"]}),
    ("chapter_started", {"chapter": 2, "attempt": 2}),
    ("chapter_started", {"chapter": 3, "attempt": 1}),
]


def test_progress_counts_queued_writing_revising_done() -> None:
    progress = RunProgress()
    for event, fields in EVENTS:
        progress.update(event, fields)
    assert (progress.queued, progress.writing, progress.revising) == (0, 1, 1)
    assert (progress.final, progress.revisions, progress.failed) == (1, 1, 0)
    labels = PromptLibrary().labels("en")
    assert "done 1/3" in progress.line(1234, labels)
    assert "tokens 1,234" in progress.line(1234, labels)


def test_a_failed_first_attempt_counts_as_failed() -> None:
    progress = RunProgress()
    progress.update("run_started", {"chapters": 2})
    progress.update("chapter_started", {"chapter": 1, "attempt": 1})
    progress.update("chapter_failed", {"chapter": 1, "attempt": 1, "error": "x"})
    assert (progress.failed, progress.writing, progress.queued) == (1, 0, 1)


def test_the_live_panel_shows_the_bar_and_the_counts_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    display = LiveDisplay(lambda: 42, console=console)
    for event, fields in EVENTS:
        display(event, fields)
    display.close()
    text = out.getvalue()
    assert "chapters" in text
    assert "chapter 2 will be revised: Mara: moved" in text
    assert "revising 1" in text


def test_plain_lines_name_each_notable_event() -> None:
    out = io.StringIO()
    display = PlainDisplay(console=Console(file=out, width=200))
    for event, fields in EVENTS:
        display(event, fields)
    lines = out.getvalue().splitlines()
    assert lines[0] == "run r (3 chapters) -> /runs/r"
    assert "chapter 1 written: 900 words" in lines
    assert "chapter 2 will be revised: Mara: moved" in lines


def test_a_chinese_run_is_shown_in_chinese() -> None:
    out = io.StringIO()
    display = PlainDisplay(console=Console(file=out, width=200))
    started = {"run_id": "r", "run_dir": "/runs/r", "chapters": 3, "language": "zh"}
    for event, fields in [("run_started", started), *EVENTS[1:]]:
        display(event, fields)
    lines = out.getvalue().splitlines()
    assert lines[0] == "开始写作 r（共3章）-> /runs/r"
    assert "第1章写成：900字" in lines
    assert "第2章将改写：Mara: moved" in lines
