"""A full disk mid-run: the run stops with a clear message and exit 1, nothing committed is
lost, and ``resume`` finishes the book once there is space again.

Two ways to fill the disk: a fault injected at a named write (always runs), and a
real, small tmpfs (only where this process may mount one, e.g. as root)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.conftest import check_finished_run, finish, start_resume, start_run

# The n-th atomic write (a draft or a report) or SQLite commit fails with ENOSPC.
FAULTS = ["atomic.before_fsync@6:enospc", "sqlite.before_commit@9:enospc"]


def assert_stopped_for_a_full_disk(code: int, err: str, run_dir: Path) -> None:
    assert code == 1, err
    assert "the disk is full" in err
    assert f"orchestrator resume {run_dir}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("fault", FAULTS)
def test_a_write_that_finds_the_disk_full(tmp_path: Path, fault: str) -> None:
    run_dir = tmp_path / "run"
    code, err = finish(start_run(run_dir, ORCHESTRATOR_FAILPOINT=fault))
    assert_stopped_for_a_full_disk(code, err, run_dir)
    drafts = {p.name: p.read_bytes() for p in (run_dir / "drafts").glob("*.md")}

    code, err = finish(start_resume(run_dir))

    assert code == 0, err
    check_finished_run(run_dir)
    for name, data in drafts.items():
        assert (run_dir / "drafts" / name).read_bytes() == data


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, or a skip where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave_kb: int) -> Path:
    """A file that leaves only ``leave_kb`` KB free on ``disk``."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_kb * 1024))
    return filler


def test_a_real_full_disk_then_resume(small_disk: Path) -> None:
    run_dir = small_disk / "run"
    filler = fill(small_disk, leave_kb=160)

    code, err = finish(start_run(run_dir, "orchestrator.min_free_mb=0"))

    assert_stopped_for_a_full_disk(code, err, run_dir)
    filler.unlink()
    code, err = finish(start_resume(run_dir))
    assert code == 0, err
    check_finished_run(run_dir)
