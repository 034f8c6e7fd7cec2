"""kill -9 a running run again and again, resuming each time: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.chaos.conftest import SEED, check_finished_run, finish, start_resume, start_run

KILLS = 6


def _kill_after(child: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL the child after ``delay`` s; False if it had already finished."""
    try:
        child.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        finish(child)
        return True
    return False


def test_random_kills_then_resume_give_a_complete_book(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    run_dir = tmp_path / "run"
    child = start_run(run_dir)
    kills = 0
    while kills < KILLS and _kill_after(child, rng.uniform(0.05, 0.6)):
        kills += 1
        # Killed before the run had started (no run.json): it is started again, not resumed.
        started = (run_dir / "run.json").exists()
        child = start_resume(run_dir) if started else start_run(run_dir)
    code, err = finish(child, timeout=120)
    assert code in (0, 1), err
    summary = check_finished_run(run_dir)
    assert kills >= 2, f"the run finished before enough kills (seed {SEED})"
    assert summary["chapters"] == 12


# Kill points inside the write path: a draft's atomic write, a SQLite commit, the folder fsync.
FAILPOINTS = [
    "atomic.after_temp_write@3",
    "atomic.before_fsync@5",
    "atomic.before_replace@7",
    "atomic.before_dir_fsync@9",
    "sqlite.before_commit@4",
    "sqlite.before_commit@11",
]


@pytest.mark.parametrize("point", FAILPOINTS)
def test_a_kill_at_a_named_step_is_resumed_without_loss(tmp_path: Path, point: str) -> None:
    run_dir = tmp_path / "run"
    child = start_run(run_dir, ORCHESTRATOR_FAILPOINT=point)
    assert finish(child)[0] == -signal.SIGKILL, f"{point} was never reached"
    before = {p.name: p.read_bytes() for p in (run_dir / "drafts").glob("*.md")}
    resumed = start_resume(run_dir, via_run=point.startswith("sqlite"))
    code, err = finish(resumed)
    assert code == 0, err
    summary = check_finished_run(run_dir)
    for name, data in before.items():  # a draft written before the kill is never rewritten
        assert (run_dir / "drafts" / name).read_bytes() == data
    # Every process's model calls count: the killed one's too.
    calls = (run_dir / "model_calls.jsonl").read_text(encoding="utf-8").splitlines()
    assert summary["model_calls"] == len(calls)
    assert {json.loads(line)["session"] for line in calls} == {0, 1}


def test_a_second_process_on_a_running_run_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = start_run(run_dir, "llm.latency_ms=300")
    deadline = time.monotonic() + 20
    while not (run_dir / "run.json").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = start_resume(run_dir)
    code, err = finish(second, timeout=30)
    assert code == 2
    assert "is being written by pid" in err
    assert finish(first)[0] == 0
    check_finished_run(run_dir)
