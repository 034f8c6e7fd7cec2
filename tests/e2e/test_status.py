"""``orchestrator status RUN``: a finished run, an interrupted one, and a folder that is no run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.conftest import Run, orchestrator


def test_finished_run_shows_title_and_finished(en_run: Run) -> None:
    proc = orchestrator("status", en_run.folder, cwd=en_run.folder.parent)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first == f"{en_run.folder}: finished"
    assert second.startswith(f"{en_run.summary['title']}: 6/6 chapters written")


def test_finished_run_as_json(en_run: Run) -> None:
    proc = orchestrator("status", en_run.folder, "--json", cwd=en_run.folder.parent)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["state"] == "finished"
    assert report["chapters"] == report["written"] == 6
    assert report["failed"] == []
    assert report["title"] == en_run.summary["title"]


def test_relative_run_folder(en_run: Run) -> None:
    proc = orchestrator("status", en_run.folder.name, "--json", cwd=en_run.folder.parent)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["state"] == "finished"


def test_chinese_run_status(zh_run: Run) -> None:
    proc = orchestrator("status", zh_run.folder, cwd=zh_run.folder.parent)
    assert proc.returncode == 0, proc.stderr
    assert "灯塔账簿" in proc.stdout
    assert "：已完成" in proc.stdout  # the state in the book's language


def test_interrupted_run_counts_chapters_from_the_store(en_run: Run, tmp_path: Path) -> None:
    # A run that died before its summary: copy a finished one without summary.json.
    copy = tmp_path / "interrupted"
    shutil.copytree(en_run.folder, copy, ignore=shutil.ignore_patterns("summary.json"))
    run_file = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    run_file["state_url"] = f"sqlite://{copy / 'state.db'}"
    (copy / "run.json").write_text(json.dumps(run_file), encoding="utf-8")
    proc = orchestrator("status", copy, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["state"] == "interrupted"
    assert report["chapters"] == 6
    assert sum(report["counts"].values()) == 6
    text = orchestrator("status", copy, cwd=tmp_path)
    assert ": interrupted" in text.stdout


def test_folder_that_is_not_a_run(tmp_path: Path) -> None:
    proc = orchestrator("status", tmp_path, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert "not a run folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_folder(tmp_path: Path) -> None:
    proc = orchestrator("status", tmp_path / "nowhere", "--json", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_state_snapshot_and_history_take_a_run_folder_or_id(en_run: Run) -> None:
    parent = en_run.folder.parent
    by_folder = orchestrator("state", "snapshot", en_run.folder, cwd=parent)
    assert by_folder.returncode == 0, by_folder.stderr
    assert json.loads(by_folder.stdout) == en_run.snapshot()
    history = orchestrator("state", "history", en_run.folder, "--chapter", "1", cwd=parent)
    assert history.returncode == 0, history.stderr
    assert all(json.loads(line)["chapter"] == 1 for line in history.stdout.splitlines())


def test_resuming_a_finished_run_changes_nothing_and_says_so(en_run: Run) -> None:
    files = {path: path.read_bytes() for path in sorted(en_run.folder.rglob("*")) if path.is_file()}
    for command in (["resume"], ["run", "--resume"]):
        proc = orchestrator(*command, en_run.folder, "--set", "llm.seed=9", cwd=en_run.folder)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"{en_run.folder} is finished: 6/6 chapters written; ")
        assert "nothing to resume, nothing changed" in proc.stdout
    after = {path: path.read_bytes() for path in sorted(en_run.folder.rglob("*")) if path.is_file()}
    assert after == files
