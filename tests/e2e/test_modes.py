"""Scheduling modes (parallel, sequential, window) and the ``--json`` event stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    DRIFT,
    SMALL,
    Run,
    RunCli,
    drifted_run,
    json_lines,
    run_in,
    write_project,
)

SEQUENTIAL = "orchestrator.mode=sequential"
WINDOW = ("orchestrator.mode=window", "orchestrator.window=2")


def index_of(events: list[dict[str, Any]], name: str, chapter: int, attempt: int = 1) -> int:
    for i, event in enumerate(events):
        same_attempt = name != "chapter_started" or event.get("attempt") == attempt
        if event["event"] == name and event["chapter"] == chapter and same_attempt:
            return i
    raise AssertionError(f"no {name} for chapter {chapter}")


@pytest.fixture(scope="module")
def sequential_json(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A sequential run with drift (seed 0), printing JSON lines."""
    base = tmp_path_factory.mktemp("sequential")
    run = run_in(
        base, write_project(base), *SMALL, DRIFT, "llm.seed=0", SEQUENTIAL, flags=("--json",)
    )
    assert run.proc.returncode == 0, run.proc.stderr
    return run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sequential_has_no_revisions_even_with_drift(
    run_cli: RunCli, project: Path, seed: int
) -> None:
    run = run_cli(project, *SMALL, DRIFT, f"llm.seed={seed}", SEQUENTIAL, flags=("--quiet",))
    assert run.proc.returncode == 0, run.proc.stderr
    summary = run.summary
    assert summary["revisions"] == 0
    assert summary["written"] == summary["chapters"]
    assert all(o["attempts"] == 1 for o in summary["chapter_outcomes"])
    assert not [f for f in summary["findings"] if " assumes " in f["detail"]]


def test_sequential_starts_a_chapter_after_the_previous_is_final(sequential_json: Run) -> None:
    events = json_lines(sequential_json.proc.stdout)
    for chapter in range(2, sequential_json.summary["chapters"] + 1):
        final = index_of(events, "chapter_final", chapter - 1)
        assert final < index_of(events, "chapter_started", chapter)


def test_sequential_never_has_two_chapters_in_flight(sequential_json: Run) -> None:
    writing = 0
    for event in json_lines(sequential_json.proc.stdout):
        writing += {"chapter_started": 1, "chapter_committed": -1, "chapter_failed": -1}.get(
            event["event"], 0
        )
        assert writing <= 1


def test_window_mode_completes(run_cli: RunCli, project: Path) -> None:
    run = run_cli(project, *SMALL, DRIFT, "llm.seed=1", *WINDOW, flags=("--json",))
    assert run.proc.returncode == 0, run.proc.stderr
    summary = run.summary
    assert summary["written"] == summary["chapters"] == 6
    assert summary["failed"] == []
    events = json_lines(run.proc.stdout)
    # Chapter k starts only once chapter k - 2 is final.
    for chapter in range(3, 7):
        assert index_of(events, "chapter_final", chapter - 2) < index_of(
            events, "chapter_started", chapter
        )


def test_window_mode_records_its_mode(run_cli: RunCli, project: Path) -> None:
    run = run_cli(project, *SMALL, *WINDOW, flags=("--json",))
    started = json_lines(run.proc.stdout)[0]
    assert started["event"] == "run_started"
    assert started["mode"] == "window"


def test_json_prints_only_json_lines(sequential_json: Run) -> None:
    lines = sequential_json.proc.stdout.splitlines()
    assert lines
    assert len(json_lines(sequential_json.proc.stdout)) == len(lines)


def test_json_events_cover_the_run(sequential_json: Run) -> None:
    names = {event["event"] for event in json_lines(sequential_json.proc.stdout)}
    assert {"run_started", "chapter_started", "chapter_committed", "reviewed", "summary"} <= names


def test_json_last_line_is_the_summary(sequential_json: Run) -> None:
    last = json_lines(sequential_json.proc.stdout)[-1]
    assert last.pop("event") == "summary"
    assert last == sequential_json.summary


def test_json_commits_once_per_attempt(tmp_path: Path) -> None:
    run = drifted_run(tmp_path, flags=("--json",))
    events = json_lines(run.proc.stdout)
    committed = [e for e in events if e["event"] == "chapter_committed"]
    started = [e for e in events if e["event"] == "chapter_started"]
    attempts = sum(o["attempts"] for o in run.summary["chapter_outcomes"])
    assert len(committed) == len(started) == attempts
    revisions = [e for e in events if e["event"] == "chapter_revision"]
    assert len(revisions) == run.summary["revisions"] > 0
