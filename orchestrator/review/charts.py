"""The charts of the HTML report, as inline SVG drawn by matplotlib.

Figures are made with matplotlib's object API and its SVG backend (no pyplot:
no global state, no display needed). Text stays text in the SVG (``fonttype
none``), so the report is small and a browser renders it with its own fonts;
labels are numbers and ASCII only, whatever the book's language. Long series
are binned first, so a chart's size does not grow with the run.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from typing import Any

from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.figure import Figure

BINS = 200  # at most this many points per line, whatever the number of operations
COLORS = {"p99": "#c0392b", "max": "#e6a19a", "p50": "#2e86c1", "limit": "#555555"}

rcParams["svg.fonttype"] = "none"
rcParams["svg.hashsalt"] = "novel-orchestrator"  # the same report gives the same SVG ids


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg")
    text = out.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG is inlined in HTML


def _figure(height: float = 2.8) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(9, height), dpi=96)
    # A fixed layout: "tight" and "constrained" each draw the figure once more to measure it.
    figure.subplots_adjust(left=0.08, right=0.92, top=0.95, bottom=0.8 / height)
    axes = figure.subplots()
    axes.grid(True, alpha=0.3)
    return figure, axes


def _marks(axes: Axes, events: list[dict[str, Any]]) -> None:
    """Vertical lines where the store was migrated."""
    for event in events:
        if event.get("event") == "migrated" and "t_s" in event:
            axes.axvline(event["t_s"], color="#27ae60", linestyle=":", label="migrated")


def lock_wait_chart(review: dict[str, Any]) -> str:
    """Lock wait over time (P50, P99, max per bin) with the threshold line."""
    state = review["state"]
    rows = [r for r in state["operations"] if r[4] != "read"]
    figure, axes = _figure()
    if rows:
        span = max(rows[-1][0], 1e-3)
        bins: dict[int, list[float]] = defaultdict(list)
        for t, _op, wait_ms, _hold, _outcome in rows:
            bins[min(BINS - 1, int(t / span * BINS))].append(wait_ms)
        times = [(i + 0.5) * span / BINS for i in sorted(bins)]
        for name, pct in (("p50", 0.5), ("p99", 0.99)):
            axes.plot(
                times, [_pct(bins[i], pct) for i in sorted(bins)], color=COLORS[name], label=name
            )
        axes.plot(
            times, [max(bins[i]) for i in sorted(bins)], color=COLORS["max"], label="max", lw=0.8
        )
    limit = state.get("thresholds", {}).get("lock_wait_p99_ms")
    if limit is not None:
        axes.axhline(
            limit, color=COLORS["limit"], linestyle="--", label=f"P99 threshold {limit:g} ms"
        )
    _marks(axes, state["threshold_events"])
    axes.set_yscale("symlog", linthresh=1.0)
    axes.set_xlabel("seconds since the store opened")
    axes.set_ylabel("lock wait (ms)")
    axes.legend(loc="upper left", fontsize=8)
    return _svg(figure)


def throughput_chart(review: dict[str, Any]) -> str:
    """Write operations per second, with the minimum-throughput threshold."""
    state = review["state"]
    rows = state["throughput_over_time"]
    figure, axes = _figure(2.4)
    step = rows[0]["step_s"] if rows else 1.0
    axes.bar(
        [r["t_s"] for r in rows],
        [r["ops_per_s"] for r in rows],
        width=step * 0.9,
        align="edge",
        color="#5d6d7e",
    )
    limit = state.get("thresholds", {}).get("min_throughput_ops_s")
    if limit is not None:
        axes.axhline(
            limit,
            color=COLORS["limit"],
            linestyle="--",
            label=f"min {limit:g} ops/s (when writers wait)",
        )
        axes.legend(loc="upper right", fontsize=8)
    _marks(axes, state["threshold_events"])
    axes.set_xlabel("seconds since the store opened")
    axes.set_ylabel("operations / s")
    return _svg(figure)


def timeline_chart(review: dict[str, Any]) -> str:
    """Which worker wrote which chapter when: one bar per attempt, revisions in orange."""
    rows = review["timeline"]
    lanes = max((r["worker"] for r in rows), default=1)
    figure, axes = _figure(max(1.6, 0.32 * lanes + 0.8))
    for row in rows:
        width = max(row["end_s"] - row["start_s"], 1e-4)
        color = "#2e86c1" if row["attempt"] == 1 else "#e67e22"
        axes.broken_barh([(row["start_s"], width)], (row["worker"] - 0.4, 0.8), facecolors=color)
        label = str(row["chapter"]) if row["attempt"] == 1 else f"{row['chapter']}r{row['attempt']}"
        axes.text(
            row["start_s"] + width / 2,
            row["worker"],
            label,
            ha="center",
            va="center",
            fontsize=7,
            color="white",
        )
    axes.set_yticks(range(1, lanes + 1))
    axes.set_ylim(0.4, lanes + 0.6)
    axes.invert_yaxis()
    axes.set_xlabel("seconds since the store opened (blue: first attempt, orange: revision)")
    axes.set_ylabel("worker")
    return _svg(figure)


def tokens_chart(review: dict[str, Any]) -> str:
    """Tokens per chapter (input, cached input, output), and cost when it is known."""
    rows = review["chapters"]
    figure, axes = _figure(2.6)
    numbers = [r["chapter"] for r in rows]
    bottom = [0] * len(rows)
    for field, color in (
        ("input_tokens", "#5dade2"),
        ("cache_read_tokens", "#a9cce3"),
        ("output_tokens", "#1f618d"),
    ):
        values = [r[field] for r in rows]
        axes.bar(numbers, values, bottom=bottom, color=color, label=field.removesuffix("_tokens"))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_xlabel("chapter")
    axes.set_ylabel("tokens")
    costs = [r["cost_usd"] for r in rows]
    if any(c is not None for c in costs):
        twin = axes.twinx()
        twin.plot(numbers, [c or 0 for c in costs], color="#c0392b", marker="o", label="cost (USD)")
        twin.set_ylabel("USD")
    axes.legend(loc="upper left", fontsize=8)
    return _svg(figure)


def _pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]
