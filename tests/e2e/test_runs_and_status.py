"""``orchestrator runs``, ``status`` (with or without RUN, a folder or an id), ``--version``
and the top-level help: what an author asks of the CLI between runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from tests.e2e.conftest import SMALL, cli_env, orchestrator, run_in, write_project


def _start(base: Path, config: Path, run_dir: str, *sets: str) -> subprocess.Popen[str]:
    args = ["run", str(config), "--run-dir", f"runs/{run_dir}", "--quiet"]
    for override in (*SMALL, *sets):
        args += ["--set", override]
    with open(base / f"{run_dir}.stderr", "w", encoding="utf-8") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "orchestrator", *args],
            cwd=base,
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )


def _wait_for_a_chapter(folder: Path, proc: subprocess.Popen[str]) -> None:
    """Until a chapter is committed: its draft is made durable first, then its delta."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"the run exited with {proc.returncode}"
        assert time.monotonic() < deadline, "no chapter was committed in 60 s"
        if list((folder / "drafts").glob("*.md")) and _committed(folder / "state.db"):
            return
        time.sleep(0.02)


def _committed(db: Path) -> bool:
    """Whether the store holds a written chapter (read without the store's lock)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            rows = con.execute("SELECT value FROM docs WHERE key LIKE 'chapters/%'").fetchall()
    except sqlite3.Error:
        return False
    return any(json.loads(value).get("status") in ("written", "revised") for (value,) in rows)


def test_runs_lists_finished_failed_interrupted_and_running_runs(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    done = run_in(tmp_path, config, *SMALL, run_dir="runs/a-done")
    assert done.proc.returncode == 0, done.proc.stderr
    # Interrupted: killed after its first chapter, as a power cut would.
    killed = _start(tmp_path, config, "b-killed", "llm.latency_ms=300")
    _wait_for_a_chapter(tmp_path / "runs" / "b-killed", killed)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    # Running: slow enough to be looked at while it writes.
    live = _start(tmp_path, config, "c-live", "llm.latency_ms=1500", "orchestrator.workers=1")
    try:
        _wait_for_a_chapter(tmp_path / "runs" / "c-live", live)
        listed = orchestrator("runs", "--json", cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        states = {r["run_id"]: r for r in map(json.loads, listed.stdout.splitlines())}
        assert [states[k]["state"] for k in ("a-done", "b-killed", "c-live")] == [
            "finished",
            "interrupted",
            "running",
        ]
        assert states["a-done"]["written"] == 6
        assert states["b-killed"]["written"] >= 1
        table = orchestrator("runs", cwd=tmp_path).stdout.splitlines()
        assert [line.split()[0] for line in table] == ["a-done", "b-killed", "c-live"]
        # status with no RUN: the run that started last, and it says who writes it.
        latest = orchestrator("status", cwd=tmp_path)
        assert latest.stdout.startswith(f"{tmp_path / 'runs' / 'c-live'}: running (pid {live.pid}")
    finally:
        live.kill()
        live.wait()


def test_status_of_an_interrupted_run_has_counts_tokens_and_spend(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    killed = _start(tmp_path, config, "cut", "llm.latency_ms=300")
    _wait_for_a_chapter(tmp_path / "runs" / "cut", killed)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    journal = tmp_path / "runs" / "cut" / "model_calls.jsonl"
    before = journal.read_bytes()
    by_id = orchestrator("status", "cut", "--json", cwd=tmp_path)  # the id, under ./runs
    assert by_id.returncode == 0, by_id.stderr
    found = json.loads(by_id.stdout)
    assert found["state"] == "interrupted"
    assert found["written"] >= 1
    assert found["model_calls"] >= 2  # the planner and at least one writer
    assert found["usage"]["output_tokens"] > 0
    assert journal.read_bytes() == before  # status reads; it repairs nothing
    text = orchestrator("status", "cut", cwd=tmp_path).stdout
    assert "interrupted" in text
    assert "orchestrator resume" in text


def test_version_and_a_help_whose_lines_are_not_cut(tmp_path: Path) -> None:
    shown = orchestrator("--version", cwd=tmp_path)
    assert shown.stdout.strip() == f"orchestrator, version {version('novel-orchestrator')}"
    helped = orchestrator("--help", cwd=tmp_path, env=cli_env(COLUMNS="80"))
    commands = helped.stdout.partition("Commands:")[2].splitlines()
    assert len(commands) >= 14
    for line in commands:
        assert not line.rstrip().endswith("..."), line
