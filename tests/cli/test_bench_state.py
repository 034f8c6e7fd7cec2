import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("backend", ["json", "sqlite", "redis"])
@pytest.mark.parametrize("mode", ["tasks", "processes"])
def test_bench_prints_figures_and_loses_nothing(tmp_path: Path, backend: str, mode: str) -> None:
    writers = 4 if mode == "processes" else 20
    cmd = [
        sys.executable,
        "-m",
        "orchestrator",
        "bench",
        "state",
        "--backend",
        backend,
        "--mode",
        mode,
        "--writers",
        str(writers),
        "--ops",
        "15",
        "--dir",
        str(tmp_path),
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["committed"] == writers * 15
    assert result["lost_updates"] == 0
    assert result["lock_wait"]["count"] == writers * 15
    for key in ("p50_ms", "p95_ms", "p99_ms", "p99.9_ms", "max_ms"):
        assert result["lock_wait"][key] >= 0
    assert 6_000 < result["state_bytes"] < 20_000


def test_bad_state_url_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "state", "snapshot", "sqlit:///x.db"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "did you mean 'sqlite'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/nope/state.db"
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "state", "snapshot", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_inspecting_a_missing_store_does_not_create_one(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/typo.db"
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "state", "history", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "no state store at this path" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_bench_in_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "bench", "state", "--dir", str(tmp_path / "no")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_grow_enlarges_the_state_and_measures_every_backend(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "orchestrator", "bench", "state", "--grow", "--mode", "tasks"]
    cmd += ["--writers", "5", "--steps", "2", "--ops", "3", "--dir", str(tmp_path), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)
    assert [(s["backend"], s["characters"], s["events"]) for s in steps] == [
        ("json", 12, 100),
        ("json", 24, 200),
        ("sqlite", 12, 100),
        ("sqlite", 24, 200),
    ]
    for first, second in (steps[:2], steps[2:]):
        assert second["store_bytes"] > first["store_bytes"]
    assert {s["lock_wait"]["count"] for s in steps} == {15}
    assert list(tmp_path.iterdir()) == []  # the stores were temporary
