"""Lock-wait and hold-time histograms for every state operation.

Lock wait is the time from asking for the write lock (or write transaction) to
holding it; hold time is how long it was held. Both go into HDR histograms
(bounded memory, three significant digits) per operation kind, with counts per
outcome, so a long run costs no more memory than a short one.

Every operation is also kept, as one small tuple, in a time series bounded to
the last ``SERIES_LIMIT`` operations (for charts, CSV rows and throughput over
time), and handed to any listener (the threshold monitor): recording stays a
few microseconds, most of it the two histogram updates.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from hdrh.histogram import HdrHistogram

Outcome = Literal["commit", "retry", "abort", "error", "duplicate", "read"]
PERCENTILES: tuple[float, ...] = (50.0, 95.0, 99.0, 99.9)
_MAX_US = 3_600 * 1_000_000  # one hour, in microseconds
SERIES_LIMIT = 100_000  # operations kept in the time series (about 10 MB at most)
# Upper bounds of the cumulative buckets exported (Prometheus ``le``), in milliseconds.
BUCKETS_MS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 60000,
)  # fmt: skip

# (seconds since the metrics started, operation, lock wait s, hold s, outcome)
Sample = tuple[float, str, float, float, str]
# Called with (seconds since start, lock wait s, latency s, outcome) after every operation;
# latency runs from asking for the lock to the commit being acknowledged (durable).
Listener = Callable[[float, float, float, str], None]


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _MAX_US, 3)


def summarize(hist: HdrHistogram, sum_s: float | None = None) -> dict[str, float | int]:
    """Count, mean, P50/P95/P99/P99.9 and max of a histogram, in milliseconds.

    One pass over the occupied range of the counts array only: hdrh's own
    ``get_mean_value`` and percentile walks call Python methods for every one of
    its ~20,000 buckets, which took over a second for a long run's histograms.
    Percentiles and max are as hdrh reports them (the highest equivalent value of
    a bucket). The mean is the exact one when ``sum_s`` (the sum of the values
    recorded, in seconds) is given; else it is estimated from the buckets' middles.
    Either way it is at most the max: a bucket's middle is above its values when
    the bucket is one microsecond wide (below 2 ms every value has its own), so
    uncontended waits of under a microsecond once gave a mean of 0.002 ms and a
    max of 0.001 ms.
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
    top = hist.get_max_value()
    mean_us = weighted / total if sum_s is None else sum_s * 1_000_000 / total
    summary: dict[str, float | int] = {"count": total, "mean_ms": _ms(min(mean_us, top))}
    for pct in PERCENTILES:
        summary[f"p{pct:g}_ms"] = _ms(values.get(pct, top))
    summary["max_ms"] = _ms(top)
    return summary


def _ms(microseconds: float) -> float:
    return round(microseconds / 1000, 3)


def _micros(seconds: float) -> int:
    """A time as the histogram records it: whole microseconds, rounded up (at least 1),
    so the max it reports is never below a time recorded."""
    return max(1, math.ceil(seconds * 1_000_000))


def cumulative_buckets(hist: HdrHistogram) -> list[int]:
    """How many values are at most each bound of ``BUCKETS_MS`` (cumulative, as Prometheus)."""
    counts = [0] * len(BUCKETS_MS)
    if hist.get_total_count() == 0:
        return counts
    bounds_us = [bound * 1000 for bound in BUCKETS_MS]
    for _, high, count in _occupied(hist):
        for index, bound in enumerate(bounds_us):
            if high <= bound:
                counts[index] += count
    return counts


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
    wait_sum_s: float = 0.0
    hold_sum_s: float = 0.0

    def record(self, wait_s: float, hold_s: float, outcome: Outcome) -> None:
        self.wait.record_value(_micros(wait_s))
        self.hold.record_value(_micros(hold_s))
        self.outcomes[outcome] += 1
        self.wait_sum_s += wait_s
        self.hold_sum_s += hold_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcomes": dict(self.outcomes),
            "lock_wait": summarize(self.wait, self.wait_sum_s),
            "hold": summarize(self.hold, self.hold_sum_s),
        }

    def buckets(self) -> dict[str, Any]:
        """Cumulative bucket counts and sums of both histograms (for Prometheus)."""
        return {
            "le_ms": list(BUCKETS_MS),
            "lock_wait": cumulative_buckets(self.wait),
            "lock_wait_sum_s": round(self.wait_sum_s, 6),
            "hold": cumulative_buckets(self.hold),
            "hold_sum_s": round(self.hold_sum_s, 6),
            "count": self.wait.get_total_count(),
        }


class StoreMetrics:
    """All operations of one StateManager, available as ``manager.metrics``."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.started = time.monotonic()
        self.ops: dict[str, OpStats] = {}
        self.all_waits = _histogram()
        self.all_waits_sum_s = 0.0
        self.series: deque[Sample] = deque(maxlen=SERIES_LIMIT)
        self.recorded = 0
        self.listeners: list[Listener] = []
        # Threshold crossings and migrations, as they happened (JSON-ready dicts).
        self.events: list[dict[str, Any]] = []

    def record(
        self,
        op: str,
        wait_s: float,
        hold_s: float,
        outcome: Outcome,
        latency_s: float | None = None,
    ) -> None:
        """One operation; ``latency_s`` (default wait + hold) ends when its commit is durable,
        which for a member of a group commit is after its hold ends."""
        stats = self.ops.get(op)
        if stats is None:
            stats = self.ops[op] = OpStats()
        stats.record(wait_s, hold_s, outcome)
        if outcome != "read":
            self.all_waits.record_value(_micros(wait_s))
            self.all_waits_sum_s += wait_s
        now = time.monotonic() - self.started
        self.series.append((now, op, wait_s, hold_s, outcome))
        self.recorded += 1
        for listener in self.listeners:
            listener(now, wait_s, wait_s + hold_s if latency_s is None else latency_s, outcome)

    def committed(self) -> int:
        return sum(stats.outcomes["commit"] for stats in self.ops.values())

    def reset(self) -> None:
        """Start a fresh measurement (the benchmark does after warming up)."""
        self.started = time.monotonic()
        self.ops.clear()
        self.all_waits = _histogram()
        self.all_waits_sum_s = 0.0
        self.series.clear()
        self.recorded = 0

    def snapshot(self) -> dict[str, Any]:
        """Everything as one JSON-serialisable dict."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "backend": self.backend,
            "elapsed_s": round(elapsed, 3),
            "committed": self.committed(),
            "throughput_ops_s": round(self.committed() / elapsed, 1),
            "lock_wait": summarize(self.all_waits, self.all_waits_sum_s),
            "ops": {name: stats.to_dict() for name, stats in sorted(self.ops.items())},
            "events": list(self.events),
        }

    def detail(self) -> dict[str, Any]:
        """What a review needs beyond ``snapshot``: bucket counts and the time series.

        ``series`` rows are ``[t_s, op, lock_wait_ms, hold_ms, outcome]``, oldest
        first; ``series_dropped`` operations fell off its start.
        """
        return {
            "buckets": {name: stats.buckets() for name, stats in sorted(self.ops.items())},
            "series": [
                [round(t, 6), op, round(wait * 1000, 4), round(hold * 1000, 4), outcome]
                for t, op, wait, hold, outcome in self.series
            ],
            "series_dropped": self.recorded - len(self.series),
        }
