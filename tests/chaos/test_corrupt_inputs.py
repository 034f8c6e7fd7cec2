"""Corrupt inputs: a truncated state.json, random bytes in state.db, a manifest that does not
match. ``doctor`` names each; ``run`` and ``resume`` refuse to write (exit 2) and change
nothing."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from tests.chaos.conftest import EXAMPLE, SEED, child_env, cli

QUICK = ["project.chapters=4", "project.target_words=150"]


def orchestrator(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli(*map(str, args)), env=child_env(), capture_output=True, text=True, timeout=60
    )


def finished_run(tmp_path: Path, *sets: str) -> Path:
    run_dir = tmp_path / "run"
    args: list[str | Path] = ["run", EXAMPLE, "--run-dir", run_dir, "--quiet"]
    for override in [*QUICK, *sets]:
        args += ["--set", override]
    proc = orchestrator(*args)
    assert proc.returncode == 0, proc.stderr
    return run_dir


def doctor(target: str | Path) -> dict[str, dict[str, object]]:
    proc = orchestrator("doctor", target, "--json")
    assert proc.returncode == 1, proc.stdout
    return {c["name"]: c for c in json.loads(proc.stdout)["checks"]}


def assert_refused(proc: subprocess.CompletedProcess[str], *names: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
    for name in names:
        assert name in proc.stderr


def test_a_truncated_json_store(tmp_path: Path) -> None:
    store = tmp_path / "state.json"
    run_dir = finished_run(tmp_path, f"state.url=json://{store}")
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 2])

    checks = doctor(run_dir)

    assert not checks["store.open"]["ok"]
    assert "state.json" in str(checks["store.open"]["detail"])
    assert_refused(orchestrator("resume", run_dir), "state.json")
    again = ["run", EXAMPLE, "--run-dir", tmp_path / "second", "--set", f"state.url=json://{store}"]
    assert_refused(orchestrator(*again), "state.json")
    assert store.read_bytes() == data[: len(data) // 2]  # refused, not repaired over


@pytest.mark.parametrize("damage", ["whole file", "one page"])
def test_random_bytes_in_a_sqlite_store(tmp_path: Path, damage: str) -> None:
    run_dir = finished_run(tmp_path)
    db = run_dir / "state.db"
    data = bytearray(db.read_bytes())
    rng = random.Random(SEED)
    if damage == "whole file":
        data[:] = rng.randbytes(len(data))
    else:  # keep the header, scramble the second page (where the tables start)
        data[4096:8192] = rng.randbytes(4096)
    db.write_bytes(bytes(data))

    checks = doctor(run_dir)

    failed = [c for c in checks.values() if not c["ok"] and c["level"] == "error"]
    assert failed, checks
    assert any("state.db" in str(c["detail"]) or "integrity" in c["name"] for c in failed)
    assert_refused(orchestrator("resume", run_dir), "state.db")
    assert db.read_bytes() == bytes(data)


def test_a_manifest_that_does_not_match(tmp_path: Path) -> None:
    run_dir = finished_run(tmp_path)
    chapter = run_dir / "chapters" / "002.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nA stray line.\n", encoding="utf-8")
    manuscript = (run_dir / "manuscript.md").read_bytes()

    checks = doctor(run_dir)

    assert not checks["manifest"]["ok"]
    assert "chapters/002.md changed" in str(checks["manifest"]["detail"])
    assert orchestrator("verify", run_dir).returncode == 1
    assert_refused(orchestrator("resume", run_dir), "chapters/002.md", "orchestrator verify")
    assert (run_dir / "manuscript.md").read_bytes() == manuscript


def test_a_healthy_run_passes_the_same_checks(tmp_path: Path) -> None:
    run_dir = finished_run(tmp_path)
    proc = orchestrator("doctor", run_dir, "--json")
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["ok"] is True
