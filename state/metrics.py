"""Lock-wait and hold-time histograms for every state operation.

Lock wait is the time from asking for the write lock (or write transaction) to
holding it; hold time is how long it was held. Both go into HDR histograms
(bounded memory, three significant digits) per operation kind, with counts per
outcome, so a long run costs no more memory than a short one.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from hdrh.histogram import HdrHistogram

Outcome = Literal["commit", "retry", "abort", "error", "duplicate", "read"]
PERCENTILES: tuple[float, ...] = (50.0, 95.0, 99.0, 99.9)
_MAX_US = 3_600 * 1_000_000  # one hour, in microseconds


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _MAX_US, 3)


def summarize(hist: HdrHistogram) -> dict[str, float | int]:
    """Count, mean, P50/P95/P99/P99.9 and max of a histogram, in milliseconds.

    One pass over the occupied range of the counts array only: hdrh's own
    ``get_mean_value`` and percentile walks call Python methods for every one of
    its ~20,000 buckets, which took over a second for a long run's histograms.
    Values are as hdrh reports them (the highest equivalent value of a bucket
    for percentiles, the bucket's middle for the mean).
    """
    total = hist.get_total_count()
    if total == 0:
        return {"count": 0}
    targets = [(pct, hist.get_target_count_at_percentile(pct)) for pct in PERCENTILES]
    values: dict[float, int] = {}
    running, weighted = 0, 0.0
    for low, high, count in _occupied(hist):
        running += count
        weighted += count * (low + high + 1) / 2
        while targets and running >= targets[0][1]:
            values[targets.pop(0)[0]] = high
    summary: dict[str, float | int] = {"count": total, "mean_ms": round(weighted / total / 1000, 3)}
    for pct in PERCENTILES:
        summary[f"p{pct:g}_ms"] = round(values.get(pct, hist.get_max_value()) / 1000, 3)
    summary["max_ms"] = round(hist.get_max_value() / 1000, 3)
    return summary


def _occupied(hist: HdrHistogram) -> list[tuple[int, int, int]]:
    """(lowest value, highest equivalent value, count) of every non-empty bucket, in order."""
    counts = hist.counts
    first = hist.get_counts_array_index(hist.get_min_value())
    last = hist.get_counts_array_index(hist.get_max_value())
    buckets = []
    for index in range(first, last + 1):
        count = counts[index]
        if count:
            low = hist.get_value_from_index(index)
            buckets.append((low, hist.get_highest_equivalent_value(low), count))
    return buckets


@dataclass
class OpStats:
    """Histograms and outcome counts of one kind of operation."""

    wait: HdrHistogram = field(default_factory=_histogram)
    hold: HdrHistogram = field(default_factory=_histogram)
    outcomes: Counter[str] = field(default_factory=Counter)

    def record(self, wait_s: float, hold_s: float, outcome: Outcome) -> None:
        self.wait.record_value(max(1, int(wait_s * 1_000_000)))
        self.hold.record_value(max(1, int(hold_s * 1_000_000)))
        self.outcomes[outcome] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes),
            "lock_wait": summarize(self.wait),
            "hold": summarize(self.hold),
        }


class StoreMetrics:
    """All operations of one StateManager, available as ``manager.metrics``."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.started = time.monotonic()
        self.ops: dict[str, OpStats] = {}
        self.all_waits = _histogram()

    def record(self, op: str, wait_s: float, hold_s: float, outcome: Outcome) -> None:
        stats = self.ops.get(op)
        if stats is None:
            stats = self.ops[op] = OpStats()
        stats.record(wait_s, hold_s, outcome)
        if outcome != "read":
            self.all_waits.record_value(max(1, int(wait_s * 1_000_000)))

    def committed(self) -> int:
        return sum(stats.outcomes["commit"] for stats in self.ops.values())

    def reset(self) -> None:
        """Start a fresh measurement (the benchmark does after warming up)."""
        self.started = time.monotonic()
        self.ops.clear()
        self.all_waits = _histogram()

    def snapshot(self) -> dict[str, Any]:
        """Everything as one JSON-serialisable dict."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "backend": self.backend,
            "elapsed_s": round(elapsed, 3),
            "committed": self.committed(),
            "throughput_ops_s": round(self.committed() / elapsed, 1),
            "lock_wait": summarize(self.all_waits),
            "ops": {name: stats.to_dict() for name, stats in sorted(self.ops.items())},
        }
