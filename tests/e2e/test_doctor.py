"""``orchestrator doctor``: a healthy run and store pass every check."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Run, RunCli, orchestrator


def checks(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    report = json.loads(proc.stdout)
    return {c["name"]: c for c in report["checks"]}


def test_a_finished_run_is_healthy(en_run: Run) -> None:
    proc = orchestrator("doctor", en_run.folder, "--json", cwd=en_run.folder.parent)

    assert proc.returncode == 0, proc.stdout
    found = checks(proc)
    expected = {
        "run.record",
        "run.config",
        "store.open",
        "sqlite.wal",
        "sqlite.busy_timeout",
        "sqlite.schema",
        "sqlite.integrity",
        "store.content",
        "leases",
        "store.owner",
        "store.chapters",
        "manifest",
        "temp_files",
        "disk",
    }
    assert set(found) == expected
    assert all(c["ok"] for c in found.values())
    assert {c["level"] for c in found.values()} == {"ok"}  # a passing check is no error
    assert "files match MANIFEST.json" in found["manifest"]["detail"]
    assert (
        "6 kept chapters are those summary.json and MANIFEST.json list"
        in (found["store.chapters"]["detail"])
    )


def test_a_state_url_is_checked_on_its_own(en_run: Run) -> None:
    proc = orchestrator("doctor", en_run.url, cwd=en_run.folder.parent)
    assert proc.returncode == 0, proc.stdout
    assert "ok   sqlite.integrity: integrity_check: ok" in proc.stdout
    assert proc.stdout.rstrip().endswith("healthy")


def test_too_little_free_space_fails(en_run: Run) -> None:
    proc = orchestrator(
        "doctor", en_run.folder, "--min-free-mb", str(10**9), "--json", cwd=en_run.folder.parent
    )
    assert proc.returncode == 1
    disk = checks(proc)["disk"]
    assert not disk["ok"]
    assert disk["level"] == "error"


def test_a_missing_store_fails_clearly(en_run: Run) -> None:
    proc = orchestrator("doctor", "sqlite:///nowhere/state.db", cwd=en_run.folder.parent)
    assert proc.returncode == 1
    assert "FAIL store.open" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_store_migrated_into_the_run_folder_is_no_artifact(
    project: Path, run_cli: RunCli
) -> None:
    run = run_cli(project, "project.chapters=3", "project.target_words=150")
    moved = orchestrator(
        "state", "migrate", run.folder, f"sqlite://{run.folder / 'moved.db'}", cwd=run.folder.parent
    )
    assert moved.returncode == 0, moved.stderr

    verified = orchestrator("verify", run.folder, "--json", cwd=run.folder.parent)

    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["unlisted"] == []
    assert orchestrator("doctor", run.folder, cwd=run.folder.parent).returncode == 0


def test_a_run_that_has_not_finished_warns_of_its_manifest(en_run: Run, tmp_path: Path) -> None:
    unfinished = tmp_path / "unfinished"
    shutil.copytree(en_run.folder, unfinished)
    for name in ("MANIFEST.json", "summary.json"):
        (unfinished / name).unlink()

    proc = orchestrator("doctor", unfinished, "--json", cwd=tmp_path)

    assert proc.returncode == 0, proc.stdout  # a warning leaves the run healthy
    manifest = checks(proc)["manifest"]
    assert (manifest["ok"], manifest["level"]) == (False, "warning")
    text = orchestrator("doctor", unfinished, cwd=tmp_path).stdout
    assert "WARN manifest: no manifest yet" in text
