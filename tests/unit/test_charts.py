"""The report's charts: money and counts on axes from zero, and no words inside a drawing
(names and legends are HTML under each chart, so labels cannot collide in the SVG)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orchestrator.review import charts, svg

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


def _review(chapters: int, operations: int) -> dict[str, Any]:
    """A run's review with only what the charts read."""
    ops = [[0.01 * n, "apply", 0.1 * (n % 50), 1.0, "commit"] for n in range(operations)]
    timeline = [
        {"chapter": c, "attempt": 1, "start_s": 0.1 * c, "end_s": 0.1 * c + 0.05}
        for c in range(1, chapters + 1)
    ]
    return {
        "chapters": [_chapter(c, 0.001) for c in range(1, chapters + 1)],
        "timeline": timeline,
        "llm": {"calls": [{"end_s": 0.1 * chapters}]},
        "state": {
            "operations": ops,
            "thresholds": {"lock_wait_p99_ms": 100.0, "min_throughput_ops_s": 30.0},
            "threshold_events": [{"event": "migrated", "t_s": 0.5}],
            "throughput_over_time": [
                {"t_s": 0.5 * n, "step_s": 0.5, "ops_per_s": 10.0 * n} for n in range(20)
            ],
        },
    }


def _drawings(review: dict[str, Any]) -> list[str]:
    return [
        charts.lock_wait_chart(review),
        charts.throughput_chart(review),
        charts.timeline_chart(review, set()),
        charts.tokens_chart(review),
    ]


POINT = re.compile(r'\b(x|x1|x2|cx|y|y1|y2|cy)="(-?[\d.]+)"|([MHV])(-?[\d.]+)(?: (-?[\d.]+))?')


def _points(drawing: str) -> list[tuple[float | None, float | None]]:
    """Every (x, y) an element or a path step puts ink at (one of them None for H and V)."""
    found: list[tuple[float | None, float | None]] = []
    for name, value, step, first, second in POINT.findall(drawing):
        if name:
            found.append((float(value), None) if "x" in name else (None, float(value)))
        elif step == "M":
            found.append((float(first), float(second)))
        else:
            found.append((float(first), None) if step == "H" else (None, float(first)))
    return found


@pytest.mark.parametrize(("chapters", "operations"), [(1, 0), (12, 40), (1000, 20_000)])
def test_charts_stay_inside_their_drawing_and_small(chapters: int, operations: int) -> None:
    for drawing in _drawings(_review(chapters, operations)):
        width, height = map(float, re.findall(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', drawing)[0])
        for x, y in _points(drawing):
            assert 0 <= (x or 0) <= width, x
            assert 0 <= (y or 0) <= height, y
        assert len(drawing) < 150_000  # long series binned; a 1,000-chapter book stays small
        assert " id=" not in drawing  # four charts share one page: no id may collide


def test_the_same_figures_give_the_same_drawing() -> None:
    assert _drawings(_review(12, 40)) == _drawings(_review(12, 40))


def test_a_long_book_gets_round_tick_steps_not_every_chapter() -> None:
    across = re.compile(r'<text [^>]*text-anchor="middle">([^<]*)</text>')  # the x axis
    chapters = [
        int(n.replace(",", "")) for n in across.findall(charts.tokens_chart(_review(1000, 0)))
    ]
    assert 8 <= len(chapters) <= 15
    assert all(n % 100 == 0 for n in chapters)


@pytest.mark.parametrize(
    ("lo", "hi", "count", "expected"),
    [
        (0.0, 0.66, 8, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
        (0.0, 0.01, 5, [0.0, 0.002, 0.004, 0.006, 0.008, 0.01]),
        (0.0, 21_000, 5, [0.0, 5_000, 10_000, 15_000, 20_000]),
    ],
)
def test_ticks_are_round(lo: float, hi: float, count: int, expected: list[float]) -> None:
    assert svg.ticks(lo, hi, count) == pytest.approx(expected)


def test_a_tick_label_has_the_decimals_its_step_needs() -> None:
    assert [svg.label(v, 2.5) for v in (0.0, 2.5, 5.0)] == ["0.0", "2.5", "5.0"]
    assert svg.label(15_000, 5_000) == "15,000"
    assert svg.label(0.004, 0.002) == "0.004"
    assert svg.symlog_ticks(300) == [0.0, 1.0, 10.0, 100.0]
