import os
import subprocess
import sys
from pathlib import Path

import pytest

from state.atomic import replace_file, stale_temp_files, write_text

FAILPOINTS = [
    "atomic.after_temp_write",
    "atomic.before_fsync",
    "atomic.before_replace",
    "atomic.before_dir_fsync",
]


def test_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "chapter.md"
    write_text(target, "old")
    write_text(target, "new text")
    assert target.read_text() == "new text"
    assert stale_temp_files(tmp_path) == []


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    write_text(target, "old")

    with pytest.raises(TypeError):
        replace_file(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert stale_temp_files(tmp_path) == []


@pytest.mark.parametrize("point", FAILPOINTS)
def test_kill_at_each_step_leaves_old_or_new(tmp_path: Path, point: str) -> None:
    target = tmp_path / "doc.txt"
    write_text(target, "old version")
    code = "import sys; from state.atomic import write_text; write_text(sys.argv[1], 'new version')"
    env = {**os.environ, "ORCHESTRATOR_FAILPOINT": point}
    proc = subprocess.run([sys.executable, "-c", code, str(target)], env=env, check=False)
    assert proc.returncode == -9  # it really died at the failpoint
    assert target.read_text() in ("old version", "new version")
    if point != "atomic.before_dir_fsync":
        assert target.read_text() == "old version"
