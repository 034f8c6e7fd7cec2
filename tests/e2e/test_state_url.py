"""A run whose project file names its state store (``state.url``) instead of the run folder's."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import SMALL, Run, json_lines, orchestrator, run_in, write_project


def project_in(folder: Path) -> Path:
    folder.mkdir()
    return write_project(folder)


def test_store_named_by_the_project_is_used(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    run = run_in(tmp_path, project_in(tmp_path / "proj"), *SMALL, f"state.url=sqlite://{store}")
    assert run.proc.returncode == 0, run.proc.stderr
    assert store.is_file()
    assert not (run.folder / "state.db").exists()
    events = json_lines(orchestrator("state", "history", f"sqlite://{store}", cwd=tmp_path).stdout)
    assert len(events) == sum(o["attempts"] for o in run.summary["chapter_outcomes"])


def test_relative_store_is_beside_the_project_file(tmp_path: Path) -> None:
    config = project_in(tmp_path / "proj")
    (tmp_path / "proj" / "stores").mkdir()
    (tmp_path / "work").mkdir()
    run = run_in(tmp_path / "work", config, *SMALL, "state.url=sqlite://stores/s.db")
    assert run.proc.returncode == 0, run.proc.stderr
    assert (tmp_path / "proj" / "stores" / "s.db").is_file()


def test_second_run_on_a_store_that_holds_a_run_is_refused(tmp_path: Path) -> None:
    config = project_in(tmp_path / "proj")
    shared = f"state.url=sqlite://{tmp_path / 'shared.db'}"
    first = run_in(tmp_path, config, *SMALL, shared, run_dir="first")
    second = run_in(tmp_path, config, *SMALL, shared, run_dir="second")
    assert first.proc.returncode == 0, first.proc.stderr
    assert second.proc.returncode == 2
    assert second.proc.stderr.startswith("error: ")
    assert "already holds run 'first'" in second.proc.stderr
    assert "Traceback" not in second.proc.stderr
    history = json_lines(
        orchestrator("state", "history", f"sqlite://{tmp_path / 'shared.db'}", cwd=tmp_path).stdout
    )
    assert {event["run_id"] for event in history} == {"first"}


def test_run_refused_for_its_store_can_be_retried_in_the_same_run_dir(tmp_path: Path) -> None:
    # Refused as bad input (exit 2) before any chapter: the run folder must not count as a run.
    config = project_in(tmp_path / "proj")
    shared = f"state.url=sqlite://{tmp_path / 'shared.db'}"
    assert run_in(tmp_path, config, *SMALL, shared, run_dir="first").proc.returncode == 0
    refused = run_in(tmp_path, config, *SMALL, shared, run_dir="second")
    assert refused.proc.returncode == 2
    retry = run_in(tmp_path, config, *SMALL, run_dir="second")
    assert retry.proc.returncode == 0, retry.proc.stderr


def test_run_refused_for_a_missing_store_folder_can_be_retried(tmp_path: Path) -> None:
    config = project_in(tmp_path / "proj")
    missing = f"state.url=sqlite://{tmp_path / 'nowhere' / 's.db'}"
    refused = run_in(tmp_path, config, *SMALL, missing)
    assert refused.proc.returncode == 2
    assert "nowhere" in refused.proc.stderr
    retry = run_in(tmp_path, config, *SMALL)
    assert retry.proc.returncode == 0, retry.proc.stderr


def interrupted(run: Run) -> None:
    """Make a finished run look like one that died before its summary."""
    (run.folder / "summary.json").unlink()


def test_status_of_interrupted_run_with_relative_store(tmp_path: Path) -> None:
    config = project_in(tmp_path / "proj")
    (tmp_path / "proj" / "stores").mkdir()
    (tmp_path / "work").mkdir()
    run = run_in(tmp_path / "work", config, *SMALL, "state.url=sqlite://stores/s.db")
    assert run.proc.returncode == 0, run.proc.stderr
    interrupted(run)
    proc = orchestrator("status", run.folder, "--json", cwd=tmp_path / "work")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["state"] == "interrupted"
    assert sum(report["counts"].values()) == 6


def test_recorded_state_url_opens_the_store(tmp_path: Path) -> None:
    config = project_in(tmp_path / "proj")
    (tmp_path / "proj" / "stores").mkdir()
    (tmp_path / "work").mkdir()
    run = run_in(tmp_path / "work", config, *SMALL, "state.url=sqlite://stores/s.db")
    assert run.proc.returncode == 0, run.proc.stderr
    for recorded in (run.read_json("run.json")["state_url"], run.summary["state_url"]):
        proc = orchestrator("state", "history", recorded, cwd=tmp_path / "work")
        assert proc.returncode == 0, f"{recorded}: {proc.stderr}"
        assert len(json_lines(proc.stdout)) >= 6


def test_status_of_a_refused_run_does_not_show_another_runs_chapters(tmp_path: Path) -> None:
    config = project_in(tmp_path / "proj")
    shared = f"state.url=sqlite://{tmp_path / 'shared.db'}"
    assert run_in(tmp_path, config, *SMALL, shared, run_dir="first").proc.returncode == 0
    assert run_in(tmp_path, config, *SMALL, shared, run_dir="second").proc.returncode == 2
    proc = orchestrator("status", "second", "--json", cwd=tmp_path)
    # Either "not a run folder" (exit 2), or a status with nothing written by "second".
    if proc.returncode == 0:
        assert json.loads(proc.stdout)["counts"] == {}, proc.stdout
    else:
        assert proc.returncode == 2
