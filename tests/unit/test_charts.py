"""The report's charts: money and counts on axes from zero, and no words inside a drawing
(names and legends are HTML under each chart, so labels cannot collide in the SVG)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orchestrator.review import charts

TEXT = re.compile(r"<text\b[^>]*>([^<]*)</text>")
NUMBER = re.compile(r"^[\u2212-]?[\d.,]+(?:e[+\u2212-]?\d+)?$|^\$?10\^?\{?[\u2212-]?\d+\}?\$?$")


def _chapter(number: int, cost: float | None) -> dict[str, Any]:
    return {
        "chapter": number,
        "input_tokens": 500 * number,
        "cache_read_tokens": 100,
        "output_tokens": 800,
        "cost_usd": cost,
    }


@pytest.mark.parametrize(
    "costs", [[0.0, 0.0, 0.0], [0.001, 0.0004, 0.02], [None, None, None]], ids=str
)
def test_tokens_and_cost_never_go_below_zero(costs: list[float | None]) -> None:
    review = {"chapters": [_chapter(n, c) for n, c in enumerate(costs, 1)]}
    ticks = TEXT.findall(charts.tokens_chart(review))
    assert ticks, "the chart has tick labels"
    for tick in ticks:
        assert not tick.startswith(("\u2212", "-")), f"a tick below zero: {tick!r}"


def test_a_chart_holds_numbers_only() -> None:
    review = {"chapters": [_chapter(n, 0.01 * n) for n in range(1, 13)]}
    for tick in TEXT.findall(charts.tokens_chart(review)):
        assert NUMBER.match(tick.strip()), f"a word inside the drawing: {tick!r}"
