"""SIGKILL at random moments in a run written by its own writers and two joined workers.

Each test kills one of the three processes (the coordinator, a worker on
"another machine", a worker on this one) at a random time, brings a
replacement up (``resume`` for the coordinator, a new worker otherwise), and
checks the finished run with the chaos oracle: complete, verified, every
attempt applied once, one kept attempt per chapter, every draft in place.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.chaos.conftest import (
    SEED,
    check_finished_run,
    child_env,
    cli,
    finish,
    start_resume,
    start_run,
)

VICTIMS = ("coordinator", "far worker", "near worker")
RUN = (
    "project.chapters=12",
    "orchestrator.workers=2",
    "orchestrator.lease_seconds=2",
    "orchestrator.poll_seconds=0.05",
    "llm.latency_ms=150",
)


def start_worker(run_dir: Path, host: str | None) -> subprocess.Popen[bytes]:
    env = child_env(**({"ORCHESTRATOR_HOST": host} if host else {}))
    return subprocess.Popen(
        cli("worker", str(run_dir), "--writers", "2"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("victim", VICTIMS)
def test_a_kill_anywhere_among_coordinator_and_workers_loses_nothing(
    tmp_path: Path, victim: str
) -> None:
    delay = random.Random(f"{SEED}-{victim}").uniform(0.2, 1.5)
    why = f"(CHAOS_SEED={SEED}: {victim} killed after {delay:.2f} s)"
    run_dir = tmp_path / "run"
    coordinator = start_run(run_dir, *RUN)
    while not (run_dir / "run.json").exists():
        assert coordinator.poll() is None, (finish(coordinator), why)
        time.sleep(0.01)
    workers = {
        "far worker": start_worker(run_dir, "far-away"),
        "near worker": start_worker(run_dir, None),
    }
    time.sleep(delay)
    if victim == "coordinator":
        coordinator.send_signal(signal.SIGKILL)
        finish(coordinator)
        coordinator = start_resume(run_dir)
    else:
        workers[victim].send_signal(signal.SIGKILL)
        finish(workers[victim])
        workers[victim] = start_worker(run_dir, "far-away" if victim == "far worker" else None)

    code, err = finish(coordinator, timeout=120)
    assert code == 0, (err, why)
    for name, worker in workers.items():
        code, err = finish(worker, timeout=60)
        assert code == 0, (name, err, why)
    check_finished_run(run_dir)
