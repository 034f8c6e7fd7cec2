"""Project files to break, one way at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "config.yaml"


def minimal() -> dict[str, Any]:
    """The smallest valid project file, as data."""
    return {
        "project": {"title": "T", "premise": "P", "chapters": 3},
        "characters": [
            {"name": "Ann", "initial": {"location": "home"}},
            {"name": "Ben", "initial": {"location": "the mill"}},
            {"name": "Cy", "initial": {"location": "the quay"}},
        ],
    }


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[Any], Path]:
    """Write data (as YAML) or text (as is) to a project file and return its path."""

    def write(content: Any) -> Path:
        path = tmp_path / "novel.yaml"
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write
