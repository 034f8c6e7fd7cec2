"""``orchestrator bench sync``: a small book, a death in chapter 2, the figures both ways."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import EXAMPLE, orchestrator


def test_bench_sync_prints_what_sync_and_a_rollback_rewrite(tmp_path: Path) -> None:
    proc = orchestrator(
        "bench", "sync", "--config", EXAMPLE, "--chapters", "6", "--edit-chapter", "2",
        "--edit", "death", "--latency-ms", "0", "--dir", tmp_path, "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["rollback_rewritten"] == 5
    assert figures["sync_revised"]
    assert set(figures["sync_revised"]) <= {3, 4, 5, 6}
    assert figures["sync_unchanged"] == 6 - 1 - len(figures["sync_revised"])
    assert 0 < figures["sync_calls"] < figures["rollback_calls"]
    assert list(tmp_path.iterdir()) == []  # its books are gone


def test_bench_sync_refuses_an_edit_past_the_last_chapter(tmp_path: Path) -> None:
    proc = orchestrator(
        "bench", "sync", "--config", EXAMPLE, "--chapters", "4", "--edit-chapter", "5",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--edit-chapter" in proc.stderr
