"""When is a store too slow? Lock-wait P99 and throughput over rolling windows.

A window of write operations closes after ``window_s`` seconds or
``window_ops`` operations, whichever comes first. A closed window is *over*
a threshold when

- its lock-wait P99 is above ``lock_wait_p99_ms`` (judged only with at least
  ``min_ops`` operations: the P99 of three operations is their maximum), or
- its throughput is below ``min_throughput_ops_s`` *while writers wait*: the
  mean number of writers waiting on the store (total time from asking for
  the lock to the commit being durable, over the window's length: Little's
  law) is at least ``waiting_writers``. With group commit a writer in one
  process waits for its group's commit rather than for the lock, so both
  count. A quiet store is not a slow store: an LLM-bound run makes few
  operations and nobody waits.

After ``window_count`` consecutive windows over a threshold the monitor calls
``on_crossed`` once per window that is still over it. It runs inside
``StoreMetrics.record``, so it does next to nothing per operation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The next backend up, by scheme: what a crossed threshold recommends.
NEXT_BACKEND: dict[str, str] = {"json": "sqlite", "sqlite": "redis"}


def recommended_backend(scheme: str) -> str | None:
    """The backend to move to from ``scheme`` (None: already the strongest we have)."""
    return NEXT_BACKEND.get(scheme)


class Limits(BaseModel):
    """The thresholds and the window they are judged over: the project file's
    ``state.thresholds`` (which adds what to do when they are crossed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lock_wait_p99_ms: float = Field(default=100, gt=0)
    min_throughput_ops_s: float = Field(default=30, gt=0)
    window_s: float = Field(default=10, gt=0, description="length of a measuring window")
    window_ops: int = Field(
        default=1000, ge=1, description="a window also closes after this many operations"
    )
    window_count: int = Field(
        default=3, ge=1, description="consecutive windows over a threshold before acting"
    )
    min_ops: int = Field(
        default=20, ge=1, description="operations a window needs before its P99 is judged"
    )
    waiting_writers: float = Field(
        default=1.0,
        gt=0,
        description="low throughput counts only while this many writers wait on the store "
        "(for the lock or their commit) on average",
    )


@dataclass(frozen=True)
class WindowFigures:
    """One closed window: its span, its figures, and which thresholds it was over."""

    start_s: float
    end_s: float
    ops: int
    lock_wait_p99_ms: float
    throughput_ops_s: float
    waiting_writers: float
    over: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        figures["over"] = list(self.over)
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


@dataclass
class _Window:
    start_s: float = 0.0
    waits: list[float] = field(default_factory=list)
    busy_s: float = 0.0  # summed latency (asking for the lock to a durable commit)


class ThresholdMonitor:
    """Feed it every operation (``observe``); it calls ``on_crossed`` as described above."""

    def __init__(self, limits: Limits, on_crossed: Callable[[WindowFigures], None]) -> None:
        self.limits = limits
        self.on_crossed = on_crossed
        self.consecutive = 0
        self.windows = 0
        self._window = _Window()

    def observe(self, t_s: float, wait_s: float, latency_s: float, outcome: str) -> None:
        """One operation finished ``t_s`` seconds into the run, after ``wait_s`` of lock
        wait and ``latency_s`` from asking for the lock to its commit being durable."""
        if outcome == "read":
            return  # reads take no lock: they say nothing about lock contention
        window = self._window
        if not window.waits:
            window.start_s = t_s
        window.waits.append(wait_s)
        window.busy_s += latency_s
        limits = self.limits
        if t_s - window.start_s >= limits.window_s or len(window.waits) >= limits.window_ops:
            self._close(t_s)

    def reset(self) -> None:
        """Start over (after the store changed): earlier windows say nothing about the new one."""
        self.consecutive = 0
        self._window = _Window()

    def _close(self, end_s: float) -> None:
        figures = self.judge(self._window, end_s)
        self._window = _Window()
        self.windows += 1
        if not figures.over:
            self.consecutive = 0
            return
        self.consecutive += 1
        if self.consecutive >= self.limits.window_count:
            self.on_crossed(figures)

    def judge(self, window: _Window, end_s: float) -> WindowFigures:
        """The figures of a window and the thresholds it is over."""
        limits = self.limits
        waits = sorted(window.waits)
        span = max(end_s - window.start_s, 1e-6)
        p99_ms = waits[max(0, math.ceil(len(waits) * 0.99) - 1)] * 1000
        throughput = len(waits) / span
        waiting = window.busy_s / span
        over = []
        if len(waits) >= limits.min_ops and p99_ms > limits.lock_wait_p99_ms:
            over.append("lock_wait_p99")
        if waiting >= limits.waiting_writers and throughput < limits.min_throughput_ops_s:
            over.append("throughput")
        return WindowFigures(
            window.start_s, end_s, len(waits), p99_ms, throughput, waiting, tuple(over)
        )
