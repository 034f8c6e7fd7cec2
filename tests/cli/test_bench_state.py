import json
import socket
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


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.mark.parametrize(
    "backend",
    [
        "json",
        "sqlite",
        pytest.param(
            "redis",
            marks=pytest.mark.skipif(not _redis_answers(), reason="no Redis at 127.0.0.1:6379"),
        ),
    ],
)
@pytest.mark.parametrize("mode", ["tasks", "processes"])
def test_bench_reference_prints_both_and_loses_nothing(
    tmp_path: Path, backend: str, mode: str
) -> None:
    cmd = [sys.executable, "-m", "orchestrator", "bench", "state", "--reference", "--rounds", "2"]
    cmd += ["--backend", backend, "--mode", mode, "--writers", "3", "--ops", "20"]
    cmd += ["--dir", str(tmp_path)]
    proc = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["rounds"]) == 2
    for one in result["rounds"]:
        for side in ("reference", "store"):
            assert one[side]["backend"] == backend
            assert one[side]["committed"] == 60
            assert one[side]["lost_updates"] == 0
            assert one[side]["lock_wait"]["count"] == 60
            assert 6_000 < one[side]["state_bytes"] < 20_000
            assert one[side]["tx_per_s"] > 0
        assert one["ratio"] > 0  # a figure, never judged
    assert result["lost_updates"] == {"reference": 0, "store": 0}
    assert set(result["median"]) == {
        "reference_tx_per_s", "store_tx_per_s", "ratio", "reference_p99_ms", "store_p99_ms",
        "reference_max_ms", "store_max_ms",
    }  # fmt: skip
    assert list(tmp_path.iterdir()) == []  # both stores were temporary

    text = subprocess.run(
        [*cmd, "--rounds", "1"], capture_output=True, text=True, timeout=180
    ).stdout
    assert "round 1: reference (plain loop)" in text
    assert "round 1: store" in text
    assert "store / reference" in text
    assert text.count("lost updates   0") == 2
