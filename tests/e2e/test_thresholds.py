"""Thresholds during a real run: a warning per window, or an online migration."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from orchestrator.artifacts.folder import RunFolder
from tests.e2e.conftest import SMALL, Run, RunCli, json_lines, orchestrator

# Deliberately low: every window of two or more writes is over the lock-wait threshold.
LOW = (
    "state.thresholds.lock_wait_p99_ms=0.001",
    "state.thresholds.window_s=0.02",
    "state.thresholds.window_count=1",
    "state.thresholds.min_ops=2",
    "llm.drift=0.4",
)


def test_a_crossed_threshold_migrates_the_run_online(project: Path, run_cli: RunCli) -> None:
    json_store = project.parent / "first.json"
    run = run_cli(
        project,
        *SMALL,
        *LOW,
        f"state.url=json://{json_store}",
        "state.thresholds.action=migrate",
        flags=("--json",),
    )
    assert run.proc.returncode == 0, run.proc.stderr
    meta = run.read_json("run.json")
    assert meta["state_url"].startswith("sqlite://state.db?")  # in the folder, relative to it
    assert meta["state_history"][0]["url"].startswith(f"json://{json_store}")
    kinds = [e["event"] for e in run.summary["state_events"]]
    assert kinds[:2] == ["threshold_crossed", "migrated"]
    assert run.summary["state_url"] == RunFolder(run.folder).store_url()
    printed = [e["event"] for e in json_lines(run.proc.stdout)]
    assert "state_migrated" in printed
    # The whole book is in the new store: one kept delta per chapter, seq numbers intact.
    history = run.history()
    kept = Counter(e["chapter"] for e in history if not e["superseded"])
    assert sorted(kept) == list(range(1, run.summary["chapters"] + 1))
    assert [e["seq"] for e in history] == sorted(e["seq"] for e in history)
    assert orchestrator("verify", run.folder, cwd=run.folder).returncode == 0
    # The JSON store is a backup now: writing to it is refused, reading it is not.
    again = orchestrator(
        "state", "migrate", f"json://{json_store}", "json://x.json", cwd=run.folder
    )
    assert again.returncode == 2
    assert "already migrated" in again.stderr
    assert orchestrator("state", "history", f"json://{json_store}", cwd=run.folder).returncode == 0


def test_warn_logs_one_structured_warning_per_window(project: Path, run_cli: RunCli) -> None:
    run = run_cli(project, *SMALL, *LOW)
    assert run.proc.returncode == 0, run.proc.stderr
    logged = [
        json.loads(line)
        for line in (run.folder / "logs" / "run.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    warnings = [e for e in logged if e["event"] == "state_threshold_crossed"]
    assert warnings, "no threshold warning"
    assert {w["level"] for w in warnings} == {"warning"}
    assert {w["action"] for w in warnings} == {"warn"}
    assert {w["recommended_backend"] for w in warnings} == {"redis"}  # from SQLite
    windows = [(w["start_s"], w["end_s"]) for w in warnings]
    assert len(set(windows)) == len(windows)  # one per window
    assert all(w["lock_wait_p99_ms"] > 0.001 for w in warnings)
    assert run.summary["state_events"] == [
        {k: v for k, v in w.items() if k not in ("level", "timestamp")}
        | {"event": "threshold_crossed"}
        for w in warnings
    ]
    assert run.read_json("run.json")["state_url"].startswith("sqlite://state.db?")


def test_default_thresholds_stay_quiet_on_a_small_run(en_run: Run) -> None:
    assert en_run.summary["state_events"] == []
