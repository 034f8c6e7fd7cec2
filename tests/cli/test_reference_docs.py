"""The generated reference pages match the code (python -m orchestrator.cli.reference)."""

from pathlib import Path

import pytest

from orchestrator.cli.reference import PAGES, pages

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"


@pytest.mark.parametrize("name", PAGES)
def test_the_generated_reference_page_is_current(name: str) -> None:
    on_disk = (REFERENCE / name).read_text(encoding="utf-8")
    assert on_disk == pages()[name], (
        f"docs/reference/{name} is out of date: run `python -m orchestrator.cli.reference`"
    )


def test_every_field_of_the_project_file_is_in_its_reference() -> None:
    text = pages()["project-file.md"]
    for field in ("budget_usd", "lease_seconds", "max_total_wait_s", "thresholds", "window"):
        assert f"| `{field}` |" in text
    assert "## `llm.retry`" in text


def test_every_command_is_in_the_cli_reference() -> None:
    text = pages()["cli.md"]
    for command in ("run", "resume", "worker", "state migrate", "state rollback", "bench state"):
        assert f"## `orchestrator {command}`" in text
