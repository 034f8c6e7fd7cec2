"""``orchestrator state rollback RUN --to-chapter K``, then ``resume``: chapters K.. rewritten."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

from tests.e2e.conftest import Run, RunCli, orchestrator

SIX = ("project.chapters=6", "project.target_words=150")


def rollback(run: Run, k: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return orchestrator(
        "state", "rollback", run.folder, "--to-chapter", str(k), *extra, cwd=run.folder.parent
    )


def test_rollback_then_resume_rewrites_the_later_chapters(project: Path, run_cli: RunCli) -> None:
    run = run_cli(project, *SIX)
    assert run.proc.returncode == 0, run.proc.stderr
    before_4 = run.snapshot(as_of_chapter=4)

    proc = rollback(run, 4, "--json")

    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["chapters"] == [4, 5, 6]
    assert not (run.folder / "summary.json").exists()
    assert not (run.folder / "chapters" / "004.md").exists()
    moved = sorted(p.name for p in (run.folder / "superseded").rglob("*.md"))
    assert moved == ["004.md", "005.md", "006.md", "manuscript.md"]
    latest = run.snapshot()
    assert latest["characters"] == before_4["characters"]
    status = orchestrator("status", run.folder, "--json", cwd=run.folder.parent)
    assert json.loads(status.stdout)["state"] != "finished"

    resumed = orchestrator("resume", run.folder, "--quiet", cwd=run.folder.parent)

    assert resumed.returncode == 0, resumed.stderr
    assert run.summary["written"] == 6
    assert orchestrator("verify", run.folder, cwd=run.folder.parent).returncode == 0
    events = run.history()
    keys = Counter(e["idempotency_key"] for e in events)
    assert max(keys.values()) == 1
    kept = {e["chapter"]: e["attempt"] for e in events if not e["superseded"]}
    assert sorted(kept) == [1, 2, 3, 4, 5, 6]
    assert all(kept[n] >= 2 for n in (4, 5, 6))  # new attempts, never a reused key
    assert all(kept[n] == 1 for n in (1, 2, 3))


def test_rollback_past_the_end_is_refused(en_run: Run) -> None:
    proc = rollback(en_run, 9)
    assert proc.returncode == 2
    assert "past the last chapter" in proc.stderr
