"""The charts of the HTML report, as inline SVG drawn by ``orchestrator.review.svg``.

The SVG holds numbers only (tick labels): titles, axis names and legends are the page's,
in the book's language (``prompts/report.*.yaml``), with swatches in these ``COLORS``, so
no text is measured with a font that lacks its glyphs and no label can sit on a line or
on another label. Long series are binned first, so a chart's size does not grow with the
run. Every time axis is seconds since the run started and starts at zero; so do the money
and count axes. Heights are those of the matplotlib charts these replaced (inches x 96).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from orchestrator.review.svg import (
    Plot,
    integer_ticks,
    nice_top,
    symlog_ticks,
    ticks,
)

BINS = 200  # at most this many points per line, whatever the number of operations
COLORS = {
    "p99": "#c0392b",
    "max": "#e6a19a",
    "p50": "#2e86c1",
    "limit": "#555555",
    "migrated": "#27ae60",
    "first": "#2e86c1",
    "revision": "#e67e22",
    "failed": "#c0392b",
    "resumed": "#8e44ad",
    "input": "#5dade2",
    "cached": "#a9cce3",
    "output": "#1f618d",
    "cost": "#c0392b",
    "ops": "#5d6d7e",
}


def _plot(height_in: float, right_axis: bool = False) -> Plot:
    return Plot(height=round(height_in * 96), right_axis=right_axis)


def _time_axis(plot: Plot, end_s: float) -> None:
    end = max(end_s, 1e-3) * 1.02
    plot.x_scale(0.0, end, ticks(0.0, end, 8))


def _marks(plot: Plot, events: list[dict[str, Any]]) -> None:
    """Vertical lines where the store was migrated."""
    for event in events:
        if event.get("event") == "migrated" and "t_s" in event:
            plot.vline(event["t_s"], COLORS["migrated"], "dotted")


def _run_end(review: dict[str, Any]) -> float:
    ends = [r["end_s"] for r in review["llm"]["calls"]]
    ends += [op[0] for op in review["state"]["operations"]]
    return max(ends, default=1.0)


def _count_axis(plot: Plot, highest: float) -> None:
    """A left axis from zero to a round number above ``highest``."""
    top = nice_top(highest * 1.05)
    plot.y_scale(0.0, top, ticks(0.0, top, 5))


def lock_wait_chart(review: dict[str, Any]) -> str:
    """Lock wait over time (P50, P99, max per bin) with the threshold line, on an axis
    linear up to 1 ms and logarithmic above."""
    state = review["state"]
    rows = [r for r in state["operations"] if r[4] != "read"]
    limit = state.get("thresholds", {}).get("lock_wait_p99_ms")
    lines: list[tuple[list[float], str, float]] = []
    times: list[float] = []
    if rows:
        first, last = rows[0][0], max(rows[-1][0], rows[0][0] + 1e-3)
        span = last - first
        bins: dict[int, list[float]] = defaultdict(list)
        for t, _op, wait_ms, _hold, _outcome in rows:
            bins[min(BINS - 1, int((t - first) / span * BINS))].append(wait_ms)
        order = sorted(bins)
        times = [first + (i + 0.5) * span / BINS for i in order]
        lines = [
            ([_pct(bins[i], 0.5) for i in order], COLORS["p50"], 2.0),
            ([_pct(bins[i], 0.99) for i in order], COLORS["p99"], 2.0),
            ([max(bins[i]) for i in order], COLORS["max"], 1.1),
        ]
    highest = max([1.0, limit or 0.0, *(v for values, _, _ in lines for v in values)])
    top = 10 ** ((1 + math.log10(highest)) * 1.05 - 1)  # 5% above, on the log part
    plot = _plot(2.6)
    _time_axis(plot, _run_end(review))
    plot.y_scale(0.0, top, symlog_ticks(top), symlog=True)
    for values, color, width in lines[2:] + lines[:2]:  # the max behind the percentiles
        plot.line(times, values, color, width)
    if limit is not None:
        plot.hline(limit, COLORS["limit"])
    _marks(plot, state["threshold_events"])
    return plot.svg()


def throughput_chart(review: dict[str, Any]) -> str:
    """Write operations per second, with the minimum-throughput threshold."""
    state = review["state"]
    rows = state["throughput_over_time"]
    limit = state.get("thresholds", {}).get("min_throughput_ops_s")
    plot = _plot(2.2)
    _time_axis(plot, _run_end(review))
    _count_axis(plot, max([limit or 0.0, *(r["ops_per_s"] for r in rows)]))
    step = rows[0]["step_s"] if rows else 1.0
    plot.bars([(r["t_s"], r["t_s"] + step * 0.9, 0.0, r["ops_per_s"]) for r in rows], COLORS["ops"])
    if limit is not None:
        plot.hline(limit, COLORS["limit"])
    _marks(plot, state["threshold_events"])
    return plot.svg()


def timeline_chart(review: dict[str, Any], failed: set[tuple[int, int]]) -> str:
    """One row per chapter, one bar per attempt (first, revision, or one that failed),
    on the run's clock; a dashed line where a resumed process started."""
    rows = review["timeline"]
    chapters = max((r["chapter"] for r in rows), default=1)
    plot = _plot(min(12.0, max(1.6, 0.2 * chapters + 0.7)))
    _time_axis(plot, max((r["end_s"] for r in rows), default=1.0))
    plot.y_scale(0.4, chapters + 0.6, integer_ticks(chapters), down=True)  # chapter 1 on top
    boxes: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    for row in rows:
        kind = "first" if row["attempt"] == 1 else "revision"
        if (row["chapter"], row["attempt"]) in failed:
            kind = "failed"
        chapter = row["chapter"]
        boxes[kind].append((row["start_s"], row["end_s"], chapter - 0.4, chapter + 0.4))
    for kind, marks in boxes.items():
        plot.bars(marks, COLORS[kind])
    for session in review.get("clock", {}).get("sessions", [])[1:]:
        plot.vline(session["first_call_s"], COLORS["resumed"])
    return plot.svg()


def tokens_chart(review: dict[str, Any]) -> str:
    """Tokens per chapter (input, cached input, output), stacked, and cost on a right-hand
    axis from zero."""
    rows = review["chapters"]
    fields = ("input_tokens", "cache_read_tokens", "output_tokens")
    colors = (COLORS["input"], COLORS["cached"], COLORS["output"])
    priced = any(r["cost_usd"] is not None for r in rows)
    plot = _plot(2.4, right_axis=priced)
    last = max((r["chapter"] for r in rows), default=1)
    # Numbers such as "1,000" side by side: fewer of them fit across than down a timeline.
    plot.x_scale(0.4 - 0.02 * last, last + 0.6 + 0.02 * last, integer_ticks(last, fit=12))
    _count_axis(plot, max((sum(r[f] for f in fields) for r in rows), default=1))
    bottoms = [0] * len(rows)
    for name, color in zip(fields, colors, strict=True):
        stack = [(r["chapter"], b, b + r[name]) for r, b in zip(rows, bottoms, strict=True)]
        plot.bars([(x - 0.4, x + 0.4, lo, hi) for x, lo, hi in stack if hi > lo], color)
        bottoms = [hi for _, _, hi in stack]
    if priced:
        numbers = [r["chapter"] for r in rows]
        costs = [r["cost_usd"] or 0.0 for r in rows]
        # Money starts at zero; a book that cost nothing still gets an axis of 0 to 0.01.
        top = max(max(costs, default=0.0) * 1.15, 0.01)
        plot.y2_scale(0.0, top, ticks(0.0, top, 5))
        plot.line(numbers, costs, COLORS["cost"], right=True)
        if last <= 60:  # a dot per chapter while they stand apart; beyond, a line alone
            plot.dots(numbers, costs, COLORS["cost"], right=True)
    return plot.svg()


def _pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]
