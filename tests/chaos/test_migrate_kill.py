"""kill -9 a migration at every step: the run is always on one complete store."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from state import open_state
from state.migrate import digest_of
from state.url import parse_state_url
from tests.chaos.conftest import (
    check_finished_run,
    child_env,
    cli,
    finish,
    start_resume,
    start_run,
)

SMALL = ["project.chapters=4", "project.target_words=120", "llm.drift=0.3"]
SMALL.append("orchestrator.html_report=false")

# (destination backend, failpoint): inside the destination's commit, after the copy, after
# the check, inside the atomic rewrite of run.json, after the switch, in the source's marking.
POINTS = [
    ("json", "atomic.before_replace@2"),  # the copy (@1 creates the empty JSON store)
    ("sqlite", "sqlite.before_commit@1"),  # the copy
    ("sqlite", "migrate.after_copy"),
    ("json", "migrate.after_verify"),
    ("sqlite", "atomic.before_replace@1"),  # run.json's rewrite
    ("json", "migrate.after_switch"),
    ("sqlite", "atomic.before_replace@2"),  # marking the (JSON) source a backup
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run on a JSON store (``state.json`` in its folder), made once."""
    run_dir = tmp_path_factory.mktemp("migrate-kill") / "run"
    args = ["run", str(Path(__file__).resolve().parents[2] / "config.yaml")]
    args += ["--run-dir", str(run_dir), "--quiet"]
    for override in [*SMALL, f"state.url=json://{run_dir / 'state.json'}"]:
        args += ["--set", override]
    done = subprocess.run(cli(*args), env=child_env(), capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    return run_dir


def _copy_of(run_dir: Path, where: Path) -> Path:
    """The finished run copied to ``where`` and adopted: a run of its own, on its own store."""
    shutil.copytree(run_dir, where, ignore=shutil.ignore_patterns("run.lock", "*.lock*"))
    adopted = subprocess.run(cli("state", "adopt", str(where)), env=child_env(), check=False)
    assert adopted.returncode == 0
    return where


def _state_url(run_dir: Path) -> str:
    """The store ``run.json`` names (one in the run folder is recorded relative to it)."""
    recorded = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["state_url"]
    return parse_state_url(str(recorded), run_dir).full()


async def _digest(url: str) -> str:
    async with open_state(url, create=False) as manager:
        return (await digest_of(manager.backend)).sha256


def _migrate(run_dir: Path, destination: str, *extra: str, **env: str) -> tuple[int, str]:
    child = subprocess.Popen(
        cli("state", "migrate", str(run_dir), destination, *extra),
        env=child_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return finish(child)


@pytest.mark.parametrize(("scheme", "point"), POINTS, ids=[f"{s}-{p}" for s, p in POINTS])
def test_a_killed_migration_leaves_the_run_on_a_complete_store(
    tmp_path: Path, finished_run: Path, scheme: str, point: str
) -> None:
    run_dir = _copy_of(finished_run, tmp_path / "run")
    original = asyncio.run(_digest(_state_url(run_dir)))
    destination = f"{scheme}://{tmp_path / ('copy.json' if scheme == 'json' else 'copy.db')}"

    code, err = _migrate(run_dir, destination, ORCHESTRATOR_FAILPOINT=point)
    assert code == -signal.SIGKILL, f"{point} was never reached: {err}"
    assert asyncio.run(_digest(_state_url(run_dir))) == original

    # Finishing it (the copy may be there already; --force completes it) ends on the copy,
    # or says the run is on it already when the kill came after the switch.
    code, err = _migrate(run_dir, destination, "--force")
    assert code == 0 or "already on" in err, err
    assert _state_url(run_dir).startswith(destination)
    assert asyncio.run(_digest(_state_url(run_dir))) == original
    resumed = start_resume(run_dir)
    assert finish(resumed)[0] == 0


# Thresholds that every window crosses, so the run migrates online from JSON to SQLite.
MIGRATE_NOW = [
    "state.thresholds.action=migrate",
    "state.thresholds.lock_wait_p99_ms=0.001",
    "state.thresholds.window_s=0.02",
    "state.thresholds.window_count=1",
    "state.thresholds.min_ops=2",
]


@pytest.mark.parametrize("point", ["migrate.after_copy", "migrate.after_switch"])
def test_a_run_killed_while_it_migrates_online_resumes_on_one_store(
    tmp_path: Path, point: str
) -> None:
    run_dir = tmp_path / "run"
    json_store = f"state.url=json://{tmp_path / 'first.json'}"
    child = start_run(run_dir, json_store, *MIGRATE_NOW, ORCHESTRATOR_FAILPOINT=point)
    assert finish(child)[0] == -signal.SIGKILL, f"{point} was never reached"
    url = _state_url(run_dir)
    assert url.startswith("sqlite://" if point == "migrate.after_switch" else "json://")
    code, err = finish(start_resume(run_dir))
    assert code == 0, err
    check_finished_run(run_dir)  # every chapter once, in the store run.json names
