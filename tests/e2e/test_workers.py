"""``orchestrator worker``: processes that join a run, one of them killed mid-chapter.

The coordinator writes nothing itself (``orchestrator.workers=0``); three
workers, each on a "machine" of its own (``ORCHESTRATOR_HOST``), write the
book. The first is SIGKILLed while it writes: since its host is not ours, its
lease cannot be judged dead and must run out before another worker takes its
chapter over. Every chapter ends up kept once, written by a live worker, on
SQLite (one machine, the run's database file) and on Redis alike.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.artifacts.folder import RunFolder
from orchestrator.board.jobs import JobBoard, Outcome
from state import open_state
from tests.e2e.conftest import SMALL, cli_env, json_lines, orchestrator, write_project
from tests.redis_support import drop_namespaces

CHAPTERS = 10
RUN = (
    f"project.chapters={CHAPTERS}",
    *SMALL[1:],
    "orchestrator.workers=0",
    "orchestrator.lease_seconds=3",
    "orchestrator.poll_seconds=0.1",
    "llm.latency_ms=400",
)


def start(args: list[str], cwd: Path, host: str | None = None) -> subprocess.Popen[str]:
    env = cli_env(**({"ORCHESTRATOR_HOST": host} if host else {}))
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def started_chapters(victim: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    assert victim.stdout is not None
    for line in victim.stdout:
        event = json.loads(line)
        yield event
        if event["event"] == "worker_done":
            return


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


async def outcomes_in(url: str) -> list[Outcome]:
    async with open_state(url, create=False) as store:
        return await JobBoard(store).all_outcomes()


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(the run's id, its state.url setting: '' for SQLite in the run folder)."""
    run_id = f"wk-{uuid.uuid4().hex[:10]}"
    if request.param == "sqlite":
        yield run_id, ""
        return
    yield run_id, "redis://127.0.0.1:6379/0"
    drop_namespaces([run_id])


def test_a_killed_workers_chapters_are_taken_over_when_its_lease_runs_out(
    tmp_path: Path, store: tuple[str, str]
) -> None:
    run_id, url = store
    config = write_project(tmp_path)
    sets = [*RUN, *([f"state.url={url}"] if url else [])]
    args = ["run", str(config), "--run-dir", run_id, "--json"]
    for override in sets:
        args += ["--set", override]
    coordinator = start(args, tmp_path)
    folder = tmp_path / run_id
    while not (folder / "run.json").exists():  # the run has opened its store
        assert coordinator.poll() is None, coordinator.communicate()
    worker_args = ["worker", run_id, "--writers", "2", "--json"]
    if url:
        worker_args += ["--state", url]
    else:
        worker_args[1] = str(folder)

    victim = start(worker_args, tmp_path, host="machine-1")
    events = started_chapters(victim)
    first = next(e for e in events if e["event"] in ("chapter_started", "worker_done"))
    assert first["event"] == "chapter_started", first
    victim.send_signal(signal.SIGKILL)
    lines = [first, *events]  # what it printed before it died
    victim.communicate(timeout=10)  # closes its pipes
    lost = {e["chapter"] for e in lines if e["event"] == "chapter_started"}
    assert not any(e["event"] == "chapter_committed" and e["chapter"] in lost for e in lines)
    victim_label = f"pid {victim.pid} on machine-1"

    others = [start(worker_args, tmp_path, host=f"machine-{n}") for n in (2, 3)]
    code, out, err = finish(coordinator)
    assert code == 0, err
    finished = [finish(worker) for worker in others]
    assert [c for c, _, _ in finished] == [0, 0], [e for _, _, e in finished]

    # Every chapter is kept exactly once, and no attempt was committed twice.
    state_url = RunFolder(folder).store_url()
    proc = orchestrator("state", "history", state_url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    history = json_lines(proc.stdout)
    kept = Counter(e["chapter"] for e in history if not e["superseded"])
    assert kept == Counter(range(1, CHAPTERS + 1))
    attempts = Counter((e["chapter"], e["attempt"]) for e in history)
    assert max(attempts.values()) == 1
    # The killed worker's chapters were written by the others, once its lease had run out.
    outcomes = asyncio.run(outcomes_in(state_url))
    writers = {(o.chapter, o.attempt): o.writer for o in outcomes if o.ok}
    assert len(writers) == len(history)
    assert victim_label not in writers.values()
    takeovers = [
        e for _, o, _ in finished for e in json_lines(o) if e["event"] == "lease_taken_over"
    ]
    # (It may have claimed a second chapter in the instant before the kill.)
    assert lost <= {t["chapter"] for t in takeovers}
    for takeover in takeovers:
        assert takeover["previous"] == victim_label
        assert takeover["reason"].startswith("expired"), takeover
    # The run counted the workers' model calls, and its book verifies.
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["written"] == CHAPTERS
    assert summary["model_calls"] >= len(history) + 1  # + the planner's
    coordinator_events = [e["event"] for e in json_lines(out)]
    assert coordinator_events.count("chapter_written_elsewhere") == CHAPTERS
    assert orchestrator("verify", folder, cwd=tmp_path).returncode == 0
    doctor = orchestrator("doctor", folder, cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stdout


def test_a_resumed_run_waits_for_and_keeps_what_workers_wrote_while_it_was_dead(
    tmp_path: Path,
) -> None:
    config = write_project(tmp_path)
    args = ["run", str(config), "--run-dir", "run", "--json"]
    for override in (*RUN[:-1], "llm.latency_ms=1500"):
        args += ["--set", override]
    coordinator = start(args, tmp_path)
    folder = tmp_path / "run"
    while not (folder / "run.json").exists():
        assert coordinator.poll() is None, coordinator.communicate()
    worker = start(["worker", str(folder), "--writers", "3", "--json"], tmp_path)
    events = started_chapters(worker)
    assert next(e for e in events if e["event"] == "chapter_started")
    coordinator.send_signal(signal.SIGKILL)  # the worker goes on with what it holds
    coordinator.communicate(timeout=10)

    resumed = orchestrator("resume", folder, "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    printed = json_lines(resumed.stdout)
    restored = next(e for e in printed if e["event"] == "chapters_restored")
    # What the worker committed with no coordinator alive is kept, its drafts copied in.
    assert restored["kept"], printed
    for chapter in restored["kept"]:
        assert list((folder / "drafts").glob(f"{chapter:03d}-*.md"))
    code, rest, err = finish(worker)
    assert code == 0, err
    assert json_lines(rest)[-1]["event"] == "worker_done"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["written"] == CHAPTERS
    proc = orchestrator("state", "history", f"sqlite://{folder / 'state.db'}", cwd=tmp_path)
    history = json_lines(proc.stdout)
    assert Counter(e["chapter"] for e in history if not e["superseded"]) == Counter(
        range(1, CHAPTERS + 1)
    )
    assert orchestrator("verify", folder, cwd=tmp_path).returncode == 0


def test_a_worker_for_another_run_is_refused_in_one_line(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    sets = [arg for setting in SMALL for arg in ("--set", setting)]
    proc = orchestrator("run", config, "--run-dir", "mine", *sets, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    url = f"sqlite://{tmp_path / 'mine' / 'state.db'}"
    wrong = orchestrator("worker", "theirs", "--state", url, cwd=tmp_path)
    assert wrong.returncode == 2
    assert len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr
    assert "holds run 'mine', not 'theirs'" in wrong.stderr
    nowhere = orchestrator("worker", "no-such-run", cwd=tmp_path)
    assert nowhere.returncode == 2
    assert "give the run's store with --state" in nowhere.stderr
    # A finished run takes no more chapters: a worker joining it leaves at once.
    late = orchestrator("worker", tmp_path / "mine", "--json", cwd=tmp_path)
    assert late.returncode == 0, late.stderr
    assert [e["event"] for e in json_lines(late.stdout)] == ["worker_done"]


def _migrating_run_with_a_worker(base: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A run that migrates its store to Redis after its first writes, and a worker that joins
    it: the run folder and the worker's events."""
    run_id = f"wk-{uuid.uuid4().hex[:10]}"
    base.mkdir()
    config = write_project(base)
    args = ["run", str(config), "--run-dir", run_id, "--json"]
    low = (  # every window of two writes crosses: the run migrates after its first commits
        "state.thresholds.lock_wait_p99_ms=0.001",
        "state.thresholds.window_s=0.02",
        "state.thresholds.window_count=1",
        "state.thresholds.min_ops=2",
        "state.thresholds.action=migrate",
        "state.thresholds.migrate_to=redis://127.0.0.1:6379/0",
    )
    for override in (*RUN[:-2], "orchestrator.lease_seconds=30", "llm.latency_ms=200", *low):
        args += ["--set", override]
    try:
        coordinator = start(args, base)
        folder = base / run_id
        while not (folder / "run.json").exists():
            assert coordinator.poll() is None, coordinator.communicate()
        worker = start(["worker", str(folder), "--writers", "3", "--json"], base)
        code, _, err = finish(coordinator)
        assert code == 0, err
        code, worked, err = finish(worker)
        assert code == 0, err
    finally:
        drop_namespaces([run_id])
    return folder, json_lines(worked)


def test_workers_follow_the_run_when_it_migrates_its_store_to_redis(tmp_path: Path) -> None:
    # The run migrates after its first writes; a worker started late (a loaded machine)
    # may join after the move and then has none to follow: the scenario runs again.
    for attempt in range(3):
        folder, events = _migrating_run_with_a_worker(tmp_path / f"try-{attempt}")
        moved = [e for e in events if e["event"] == "store_moved"]
        if moved:
            break
    assert len(moved) == 1, "in 3 tries the worker never joined before the run moved its store"
    meta = json.loads((folder / "run.json").read_text())
    assert meta["state_url"].startswith("redis://127.0.0.1:6379/0")
    assert moved[0]["to"].startswith("redis://")
    written = [e["chapter"] for e in events if e["event"] == "chapter_committed"]
    assert sorted(written) == list(range(1, CHAPTERS + 1))
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["written"] == CHAPTERS
