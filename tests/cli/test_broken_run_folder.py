"""A run folder whose records are damaged: a clear error and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "config.yaml"


@pytest.fixture
def broken_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "drafts").mkdir(parents=True)
    (run / "run.json").write_text("{not json", encoding="utf-8")
    (run / "config.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return run


@pytest.mark.parametrize("command", [["resume"], ["status"], ["run", "--resume"]])
def test_an_unreadable_run_json_is_a_clear_error(broken_run: Path, command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, str(broken_run)])
    assert result.exit_code == 2
    assert "run.json cannot be read as JSON" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_run_json_without_a_state_url_is_a_clear_error(broken_run: Path) -> None:
    (broken_run / "run.json").write_text('{"run_id": "run"}', encoding="utf-8")
    result = CliRunner().invoke(cli, ["status", str(broken_run)])
    assert result.exit_code == 2
    assert "no state_url" in result.output


def test_a_damaged_summary_is_a_clear_error(broken_run: Path) -> None:
    (broken_run / "run.json").write_text('{"state_url": "sqlite:///x.db"}', encoding="utf-8")
    (broken_run / "summary.json").write_text('{"run_id": 3}', encoding="utf-8")
    result = CliRunner().invoke(cli, ["status", str(broken_run)])
    assert result.exit_code == 2
    assert "is not a run summary" in result.output
