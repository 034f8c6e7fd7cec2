"""A run folder is self-contained: a copy or a move works on its own store, never the original's.

Each test hashes every file of the original before and after running the
commands on the copy: the original must stay byte-identical.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from state import open_state
from tests.e2e.conftest import SMALL, Run, RunCli, cli_env, orchestrator

COPY = "this folder's store is a copy"
KILL_MID_RUN = "sqlite.before_commit@8"  # after the outline, as the first chapters commit


def hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path) with its SHA-256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def cmd(folder: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``orchestrator ARGS`` from the runs' parent folder; never a traceback."""
    proc = orchestrator(*args, cwd=folder.parent)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def finished(run_cli: RunCli, project: Path, *sets: str, run_dir: str = "A") -> Run:
    run = run_cli(project, *SMALL, *sets, run_dir=run_dir)
    assert run.proc.returncode == 0, run.proc.stderr
    return run


def killed(run_cli: RunCli, project: Path, run_dir: str = "A") -> Run:
    """A run SIGKILLed in a store commit, with some chapters committed: half-finished."""
    env = cli_env(ORCHESTRATOR_FAILPOINT=KILL_MID_RUN)
    run = run_cli(project, *SMALL, run_dir=run_dir, env=env)
    assert run.proc.returncode == -signal.SIGKILL, run.proc.stderr
    assert (run.folder / "run.json").is_file()
    assert not (run.folder / "summary.json").exists()
    return run


def chapter_records(url: str) -> int:
    async def count() -> int:
        async with open_state(url, create=False) as manager:
            return len(await manager.chapters())

    return asyncio.run(count())


def every_command(copy: Path, tmp_path: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every command of the CLI that takes a run folder, on ``copy``."""
    return {
        "status": cmd(copy, "status", copy),
        "verify": cmd(copy, "verify", copy),
        "doctor": cmd(copy, "doctor", copy),
        "resume": cmd(copy, "resume", copy, "--quiet"),
        "rollback": cmd(copy, "state", "rollback", copy, "--to-chapter", "3"),
        "migrate": cmd(copy, "state", "migrate", copy, f"sqlite://{copy / 'moved.db'}"),
        "worker": cmd(copy, "worker", copy),
        "metrics": cmd(copy, "metrics", "export", copy, "--out", tmp_path / "metrics.json"),
        "publish": cmd(
            copy,
            "publish",
            copy,
            "--approver",
            "Ana",
            "--note",
            "n",
            "--publish-dir",
            tmp_path / "pub",
        ),
    }


def assert_copy_refused(results: dict[str, subprocess.CompletedProcess[str]], copy: Path) -> None:
    for name in ("resume", "rollback", "migrate", "worker"):
        proc = results[name]
        assert proc.returncode == 2, f"{name}: {proc.stderr}"
        assert COPY in proc.stderr, f"{name}: {proc.stderr}"
        assert f"orchestrator state adopt {copy}" in proc.stderr, proc.stderr
    assert not (copy / "moved.db").exists()


def test_run_json_records_the_default_store_relative_to_the_folder(
    project: Path, run_cli: RunCli
) -> None:
    run = finished(run_cli, project)
    assert run.read_json("run.json")["state_url"].startswith("sqlite://state.db?")


def test_every_command_on_a_copy_of_a_finished_run_leaves_the_original_untouched(
    project: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    original = finished(run_cli, project).folder
    copy = tmp_path / "B"
    shutil.copytree(original, copy, symlinks=True)
    before = hashes(original)

    results = every_command(copy, tmp_path)

    assert hashes(original) == before
    for name in ("status", "verify", "doctor", "metrics", "publish"):
        assert results[name].returncode == 0, f"{name}: {results[name].stderr}"
    assert COPY in results["doctor"].stdout  # a warning: the copy reads fine
    assert_copy_refused(results, copy)
    assert cmd(original, "doctor", original).returncode == 0
    assert chapter_records(f"sqlite://{original / 'state.db'}") == 6


def test_every_command_on_a_copy_of_a_half_finished_run_leaves_the_original_untouched(
    project: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    original = killed(run_cli, project).folder
    copy = tmp_path / "B"
    shutil.copytree(original, copy, symlinks=True)
    before = hashes(original)

    results = every_command(copy, tmp_path)

    assert hashes(original) == before
    assert results["status"].returncode == 0, results["status"].stderr
    assert_copy_refused(results, copy)
    resumed = cmd(original, "resume", original, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert cmd(original, "doctor", original).returncode == 0


def test_an_adopted_copy_is_a_run_of_its_own(
    project: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    original = killed(run_cli, project).folder
    copy = tmp_path / "B"
    shutil.copytree(original, copy, symlinks=True)
    before = hashes(original)

    adopted = cmd(copy, "state", "adopt", copy, "--json")

    assert adopted.returncode == 0, adopted.stderr
    assert json.loads(adopted.stdout) == {
        "run_dir": str(copy),
        "adopted": True,
        "run_id": "B",
        "was": "A",
        "copied_from": str(original.resolve()),
    }
    meta = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    assert meta["run_id"] == "B"
    assert meta["adopted_from"]["run_id"] == "A"
    assert cmd(copy, "state", "adopt", copy).returncode == 0  # again: nothing to do
    resumed = cmd(copy, "resume", copy, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    rolled = cmd(copy, "state", "rollback", copy, "--to-chapter", "4")
    assert rolled.returncode == 0, rolled.stderr
    assert cmd(copy, "resume", copy, "--quiet").returncode == 0
    assert cmd(copy, "doctor", copy).returncode == 0
    assert hashes(original) == before
    # The original goes on with its own store.
    resumed = cmd(original, "resume", original, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert cmd(original, "verify", original).returncode == 0


@pytest.mark.parametrize("half", [False, True], ids=["finished", "half-finished"])
def test_a_moved_run_works_where_it_is(
    project: Path, run_cli: RunCli, tmp_path: Path, half: bool
) -> None:
    run = killed(run_cli, project) if half else finished(run_cli, project)
    moved = tmp_path / "elsewhere" / "C"
    moved.parent.mkdir()
    shutil.move(run.folder, moved)

    doctor = cmd(moved, "doctor", moved)
    assert doctor.returncode == 0 or half, doctor.stdout
    assert "store.open: " in doctor.stdout
    assert "FAIL store.open" not in doctor.stdout
    if not half:
        rolled = cmd(moved, "state", "rollback", moved, "--to-chapter", "5")
        assert rolled.returncode == 0, rolled.stderr
    resumed = cmd(moved, "resume", moved, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert cmd(moved, "doctor", moved).returncode == 0
    status = json.loads(cmd(moved, "status", moved, "--json").stdout)
    assert status["run_id"] == "A"
    assert status["written"] == 6


def _make_old(folder: Path) -> None:
    """The run folder as runs before relative stores left it: an absolute state URL, and a
    store that records no folder."""
    meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    meta["state_url"] = f"sqlite://{folder / 'state.db'}?durability=full&lock_timeout=60"
    (folder / "run.json").write_text(json.dumps(meta), encoding="utf-8")

    async def forget_folder() -> None:
        async with open_state(meta["state_url"], create=False) as manager:
            await manager.put_meta("run", {"run_id": meta["run_id"]})

    asyncio.run(forget_folder())


def test_a_copy_of_an_old_run_folder_opens_its_own_store(
    project: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    original = finished(run_cli, project).folder
    _make_old(original)
    copy = tmp_path / "B"
    shutil.copytree(original, copy, symlinks=True)
    before = hashes(original)

    rolled = cmd(copy, "state", "rollback", copy, "--to-chapter", "4")

    assert rolled.returncode == 0, rolled.stderr
    assert hashes(original) == before
    assert chapter_records(f"sqlite://{copy / 'state.db'}") == 3
    assert cmd(copy, "resume", copy, "--quiet").returncode == 0
    assert cmd(original, "doctor", original).returncode == 0
    moved = tmp_path / "C"
    shutil.move(original, moved)
    assert cmd(moved, "doctor", moved).returncode == 0


def test_a_copy_that_shares_a_store_outside_the_folder_never_writes_it(
    project: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    store = tmp_path / "stores" / "a.db"
    store.parent.mkdir()
    original = finished(run_cli, project, f"state.url=sqlite://{store}").folder
    copy = tmp_path / "B"
    shutil.copytree(original, copy, symlinks=True)
    before = hashes(original) | {"store": hashlib.sha256(store.read_bytes()).hexdigest()}

    results = {
        "resume": cmd(copy, "resume", copy, "--quiet"),
        "rollback": cmd(copy, "state", "rollback", copy, "--to-chapter", "3"),
        "migrate": cmd(copy, "state", "migrate", copy, f"sqlite://{copy / 'moved.db'}"),
        "worker": cmd(copy, "worker", copy),
        "adopt": cmd(copy, "state", "adopt", copy),
    }

    for name, proc in results.items():
        assert proc.returncode == 2, f"{name}: {proc.stderr}"
    for name in ("resume", "rollback", "migrate", "worker"):
        assert f"is a copy of {original}" in results[name].stderr, results[name].stderr
    assert "only a folder with its own store file" in results["adopt"].stderr
    after = hashes(original) | {"store": hashlib.sha256(store.read_bytes()).hexdigest()}
    assert after == before


def test_doctor_fails_when_the_store_and_the_book_disagree(project: Path, run_cli: RunCli) -> None:
    run = finished(run_cli, project)

    async def rewind() -> None:  # what a rollback from a copy used to do to the original
        async with open_state(run.url, create=False) as manager:
            await manager.rewind(6)

    asyncio.run(rewind())
    doctor = cmd(run.folder, "doctor", run.folder, "--json")

    assert doctor.returncode == 1
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert not checks["store.chapters"]["ok"]
    detail = checks["store.chapters"]["detail"]
    assert "keeps chapters 1-5" in detail
    assert "summary.json lists 1-6" in detail
    assert "MANIFEST.json lists 1-6" in detail
