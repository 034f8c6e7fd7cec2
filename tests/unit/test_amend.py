"""Which fields ``resume --set`` may change under a started run (``orchestrator.run.amend``),
and the manifest following the one file it changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.artifacts.folder import RunFolder
from orchestrator.artifacts.manifest import MANIFEST_FILE, refresh_entry, verify, write_manifest
from orchestrator.run.amend import fixed_reason


@pytest.mark.parametrize(
    "field",
    [
        "project.chapters",
        "project.language",
        "project.outline",
        "project.title",
        "characters",
        "world",
        "state.url",
        "state.durability",
    ],
)
def test_what_a_started_run_rests_on_is_fixed(field: str) -> None:
    assert fixed_reason(field)


@pytest.mark.parametrize(
    "field",
    [
        "llm.budget_usd",
        "llm.model",
        "llm.rate_limits.requests_per_minute",
        "orchestrator.workers",
        "project.target_words",
        "state.thresholds.lock_wait_p99_ms",
        "publish.folder",
    ],
)
def test_what_may_change_from_now_on(field: str) -> None:
    assert fixed_reason(field) is None


def test_a_store_change_points_to_migrate() -> None:
    assert "orchestrator state migrate" in (fixed_reason("state.url") or "")


def test_refreshing_one_entry_gives_the_manifest_a_fresh_write_would(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "run")
    folder.write_json("run.json", {"run_id": "r", "state_url": "sqlite://state.db"})
    for name in ("config.yaml", "chapters/001.md", "chapters-notes.md", "summary.json"):
        folder.write_text(name, f"{name}\n")
    write_manifest(folder)
    folder.write_text("config.yaml", "llm: {budget_usd: 5}\n")
    (folder.root / "summary.json").write_text("edited by hand\n", encoding="utf-8")

    refresh_entry(folder, "config.yaml")

    result = verify(folder)
    assert result.changed == ["summary.json"]  # only the file named is made current
    refreshed = folder.read_json(MANIFEST_FILE)
    folder.write_text("summary.json", "summary.json\n")
    fresh = write_manifest(folder)
    assert refreshed["files"] == fresh["files"]
    assert refreshed["digest"] == fresh["digest"]
