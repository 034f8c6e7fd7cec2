"""The charts of the HTML report, as inline SVG drawn by matplotlib.

Figures are made with matplotlib's object API and its SVG backend (no pyplot:
no global state, no display needed). The SVG holds numbers only (tick labels):
titles, axis names and legends are the page's, in the book's language
(``prompts/report.*.yaml``), with swatches in these ``COLORS``, so no text is measured
with a font that lacks its glyphs and no label can sit on a line or on another
label. Text stays text in the SVG (``fonttype none``). Long series are binned
first, so a chart's size does not grow with the run. Every time axis is seconds
since the run started and starts at zero; so do the money and count axes.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from typing import Any

from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator

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

rcParams["svg.fonttype"] = "none"
rcParams["svg.hashsalt"] = "novel-orchestrator"  # the same report gives the same SVG ids


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG is inlined in HTML


def _figure(height: float = 2.6, right: float = 0.97) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(9, height), dpi=96)
    # A fixed layout: "tight" and "constrained" each draw the figure once more to measure it.
    figure.subplots_adjust(left=0.08, right=right, top=1 - 0.15 / height, bottom=0.45 / height)
    axes = figure.subplots()
    axes.grid(True, alpha=0.3)
    return figure, axes


def _time_axis(axes: Axes, end_s: float) -> None:
    axes.set_xlim(0, max(end_s, 1e-3) * 1.02)


def _marks(axes: Axes, events: list[dict[str, Any]]) -> None:
    """Vertical lines where the store was migrated."""
    for event in events:
        if event.get("event") == "migrated" and "t_s" in event:
            axes.axvline(event["t_s"], color=COLORS["migrated"], linestyle=":")


def _run_end(review: dict[str, Any]) -> float:
    ends = [r["end_s"] for r in review["llm"]["calls"]]
    ends += [op[0] for op in review["state"]["operations"]]
    return max(ends, default=1.0)


def lock_wait_chart(review: dict[str, Any]) -> str:
    """Lock wait over time (P50, P99, max per bin) with the threshold line."""
    state = review["state"]
    rows = [r for r in state["operations"] if r[4] != "read"]
    figure, axes = _figure()
    if rows:
        first, last = rows[0][0], max(rows[-1][0], rows[0][0] + 1e-3)
        span = last - first
        bins: dict[int, list[float]] = defaultdict(list)
        for t, _op, wait_ms, _hold, _outcome in rows:
            bins[min(BINS - 1, int((t - first) / span * BINS))].append(wait_ms)
        times = [first + (i + 0.5) * span / BINS for i in sorted(bins)]
        for name, pct in (("p50", 0.5), ("p99", 0.99)):
            axes.plot(times, [_pct(bins[i], pct) for i in sorted(bins)], color=COLORS[name])
        axes.plot(times, [max(bins[i]) for i in sorted(bins)], color=COLORS["max"], lw=0.8)
    limit = state.get("thresholds", {}).get("lock_wait_p99_ms")
    if limit is not None:
        axes.axhline(limit, color=COLORS["limit"], linestyle="--")
    _marks(axes, state["threshold_events"])
    axes.set_yscale("symlog", linthresh=1.0)
    axes.set_ylim(bottom=0)
    _time_axis(axes, _run_end(review))
    return _svg(figure)


def throughput_chart(review: dict[str, Any]) -> str:
    """Write operations per second, with the minimum-throughput threshold."""
    state = review["state"]
    rows = state["throughput_over_time"]
    figure, axes = _figure(2.2)
    step = rows[0]["step_s"] if rows else 1.0
    axes.bar(
        [r["t_s"] for r in rows],
        [r["ops_per_s"] for r in rows],
        width=step * 0.9,
        align="edge",
        color=COLORS["ops"],
    )
    limit = state.get("thresholds", {}).get("min_throughput_ops_s")
    if limit is not None:
        axes.axhline(limit, color=COLORS["limit"], linestyle="--")
    _marks(axes, state["threshold_events"])
    axes.set_ylim(bottom=0)
    _time_axis(axes, _run_end(review))
    return _svg(figure)


def timeline_chart(review: dict[str, Any], failed: set[tuple[int, int]]) -> str:
    """One row per chapter, one bar per attempt (first, revision, or one that failed),
    on the run's clock; a dashed line where a resumed process started."""
    rows = review["timeline"]
    chapters = max((r["chapter"] for r in rows), default=1)
    figure, axes = _figure(min(12.0, max(1.6, 0.2 * chapters + 0.7)))
    for row in rows:
        width = max(row["end_s"] - row["start_s"], 1e-4)
        kind = "first" if row["attempt"] == 1 else "revision"
        if (row["chapter"], row["attempt"]) in failed:
            kind = "failed"
        axes.broken_barh(
            [(row["start_s"], width)], (row["chapter"] - 0.4, 0.8), facecolors=COLORS[kind]
        )
    for session in review.get("clock", {}).get("sessions", [])[1:]:
        axes.axvline(session["first_call_s"], color=COLORS["resumed"], linestyle="--")
    _integer_ticks(axes.yaxis, chapters)
    axes.set_ylim(chapters + 0.6, 0.4)  # chapter 1 at the top
    _time_axis(axes, max((r["end_s"] for r in rows), default=1.0))
    return _svg(figure)


def tokens_chart(review: dict[str, Any]) -> str:
    """Tokens per chapter (input, cached input, output), and cost on an axis from zero."""
    rows = review["chapters"]
    figure, axes = _figure(2.4, right=0.9)
    numbers = [r["chapter"] for r in rows]
    bottom = [0] * len(rows)
    for field, color in (
        ("input_tokens", COLORS["input"]),
        ("cache_read_tokens", COLORS["cached"]),
        ("output_tokens", COLORS["output"]),
    ):
        values = [r[field] for r in rows]
        axes.bar(numbers, values, bottom=bottom, color=color)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _integer_ticks(axes.xaxis, max(numbers, default=1))
    axes.set_ylim(bottom=0)
    costs = [r["cost_usd"] or 0.0 for r in rows]
    if any(r["cost_usd"] is not None for r in rows):
        twin = axes.twinx()
        twin.plot(numbers, costs, color=COLORS["cost"], marker="o")
        # Money starts at zero; a book that cost nothing still gets an axis of 0 to 0.01.
        twin.set_ylim(0, max(max(costs, default=0.0) * 1.15, 0.01))
    return _svg(figure)


def _integer_ticks(axis: Any, count: int) -> None:
    """Every chapter number up to 30 chapters, else as many whole numbers as fit."""
    if count <= 30:
        axis.set_major_locator(FixedLocator(list(range(1, count + 1))))
    else:
        axis.set_major_locator(MaxNLocator(integer=True, nbins=25))


def _pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]
