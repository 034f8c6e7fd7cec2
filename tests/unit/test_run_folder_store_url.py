"""Where a run folder finds its store: relative to itself, wherever it was copied or moved."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.artifacts.folder import RunFolder

OPTIONS = "durability=full&lock_timeout=60"


def _folder(root: Path, state_url: str, run_id: str = "A") -> RunFolder:
    root.mkdir(parents=True)
    record = {"run_id": run_id, "state_url": state_url}
    (root / "run.json").write_text(json.dumps(record), encoding="utf-8")
    (root / "state.db").touch()
    return RunFolder.existing(root)


def test_the_default_store_is_recorded_by_its_name_in_the_folder(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "A")
    recorded = folder.record_url(f"sqlite://{tmp_path / 'A' / 'state.db'}?{OPTIONS}")
    assert recorded == f"sqlite://state.db?{OPTIONS}"
    outside = f"sqlite://{tmp_path / 'stores' / 's.db'}?{OPTIONS}"
    assert folder.record_url(outside) == outside
    assert folder.record_url("redis://127.0.0.1:6379/0?namespace=A") == (
        "redis://127.0.0.1:6379/0?namespace=A"
    )


def test_a_relative_store_is_opened_in_the_folder_it_is_read_from(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "B", f"sqlite://state.db?{OPTIONS}")
    assert folder.store_url() == f"sqlite://{tmp_path / 'B' / 'state.db'}?{OPTIONS}"


def test_an_old_absolute_store_of_the_original_folder_is_opened_in_a_copy(tmp_path: Path) -> None:
    original = tmp_path / "runs" / "A" / "state.db"
    copy = _folder(tmp_path / "copies" / "B", f"sqlite://{original}?{OPTIONS}")
    assert copy.store_url() == f"sqlite://{copy.root / 'state.db'}?{OPTIONS}"
    assert copy.run_id == "A"  # run.json's, not the folder's name


def test_a_store_the_user_named_outside_the_folder_stays_as_given(tmp_path: Path) -> None:
    given = f"sqlite://{tmp_path / 'stores' / 'state.db'}?{OPTIONS}"
    folder = _folder(tmp_path / "A", given)
    assert folder.store_url() == given
