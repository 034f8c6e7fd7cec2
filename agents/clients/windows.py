"""How large a model's context window is (``windows.yaml``), and the writers' context
budget it implies when the project file does not set one."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

WINDOWS_FILE = Path(__file__).resolve().parent / "windows.yaml"
_SUFFIX = re.compile(r"-(\d{8}|latest)$")

# The writer's prompt may take this share of the window (the rest: its reply, the
# continuation turns, and room for the tokenizer's error), within these bounds.
WINDOW_SHARE = 1 / 8
MIN_BUDGET = 4_000
MAX_BUDGET = 32_000


@cache
def _table() -> tuple[int, dict[str, int]]:
    data = yaml.safe_load(WINDOWS_FILE.read_text(encoding="utf-8"))
    models = {str(name): int(tokens) for name, tokens in (data.get("models") or {}).items()}
    return int(data.get("default", 8000)), models


def context_window(model: str) -> int | None:
    """The window of ``model``: its own row, else its family's (date suffix dropped)."""
    _, models = _table()
    return models.get(model) or models.get(_SUFFIX.sub("", model))


def default_budget(model: str) -> int:
    """The writers' context budget for ``model``: an eighth of its window, between 4,000 and
    32,000 tokens; the table's default (8,000) for a model it does not know."""
    window = context_window(model)
    if window is None:
        return _table()[0]
    return max(MIN_BUDGET, min(MAX_BUDGET, int(window * WINDOW_SHARE)))
