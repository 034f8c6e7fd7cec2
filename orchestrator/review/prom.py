"""The ``prom`` export: the Prometheus text exposition format.

Written with ``prometheus_client``'s own families and ``generate_latest``, so
the output is what a Prometheus server or a node_exporter textfile collector
reads: histograms with ``le`` buckets, ``_sum`` and ``_count``; counters with
``_total``; gauges. Every series carries the run's id as a label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from orchestrator.review.review import USAGE_FIELDS

PREFIX = "orchestrator"
# Model-call latency buckets, in seconds.
LLM_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The writing figures as gauges: orchestrator_book_<key> and orchestrator_chapter_<key>.
WRITING_GAUGES = (
    ("length", "Length in words (characters for Chinese)"),
    ("length_score", "Length score against the target, 0-100 (LongBench-Write)"),
    ("continuations", "Replies that continued a chapter"),
    ("revisions", "Attempts beyond the first"),
    ("repeated_pct", "Percent of word n-grams found more than once in the book"),
    ("repeated_within_pct", "Percent of word n-grams repeated within their chapter"),
    ("repeated_across_pct", "Percent of word n-grams also in another chapter"),
    ("overused_per_10k", "Overused phrases per 10,000 words"),
    ("findings_per_10k", "Continuity findings per 10,000 words"),
    ("threads_due", "Foreshadowing threads due"),
    ("threads_on_time", "Foreshadowing threads paid off on time"),
)
BOOK_ONLY = ("repeated_pct",)


def review_prometheus(review: dict[str, Any]) -> str:
    """The exposition text of a review."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ReviewCollector(review))
    return generate_latest(registry).decode("utf-8")


class _ReviewCollector(Collector):
    def __init__(self, review: dict[str, Any]) -> None:
        self.review = review
        self.run_id = str(review["run"]["run_id"])

    def collect(self) -> Iterator[Metric]:
        yield from self._state_histograms()
        yield from self._state_counters()
        yield from self._llm()
        yield from self._run()
        yield from self._writing()

    def _state_histograms(self) -> Iterator[Metric]:
        for kind, doc in (
            ("lock_wait", "Time to get the write lock"),
            ("hold", "Time it was held"),
        ):
            family = HistogramMetricFamily(
                f"{PREFIX}_state_{kind}_seconds",
                f"{doc}, per state operation",
                labels=["run_id", "op"],
            )
            for op, b in sorted(self.review["state"]["buckets"].items()):
                buckets = [(_le(ms / 1000), n) for ms, n in zip(b["le_ms"], b[kind], strict=True)]
                buckets.append(("+Inf", b["count"]))
                family.add_metric([self.run_id, op], buckets, b[f"{kind}_sum_s"])
            yield family

    def _state_counters(self) -> Iterator[Metric]:
        state = self.review["state"]
        ops = CounterMetricFamily(
            f"{PREFIX}_state_operations",
            "State operations by outcome",
            labels=["run_id", "op", "outcome"],
        )
        for op, stats in sorted(state["ops"].items()):
            for outcome, n in sorted(stats["outcomes"].items()):
                ops.add_metric([self.run_id, op, outcome], n)
        yield ops
        kinds = Counter(e.get("event", "") for e in state["threshold_events"])
        events = CounterMetricFamily(
            f"{PREFIX}_state_threshold_events",
            "Threshold crossings and migrations",
            labels=["run_id", "event"],
        )
        for event in ("threshold_crossed", "migrated", "migration_failed"):
            events.add_metric([self.run_id, event], kinds.get(event, 0))
        yield events
        throughput = GaugeMetricFamily(
            f"{PREFIX}_state_throughput_ops_per_second",
            "Committed operations per second",
            labels=["run_id"],
        )
        throughput.add_metric([self.run_id], state["throughput_ops_s"])
        yield throughput
        p99 = GaugeMetricFamily(
            f"{PREFIX}_state_lock_wait_p99_seconds", "Lock-wait P99 over the run", labels=["run_id"]
        )
        p99.add_metric([self.run_id], state["lock_wait"].get("p99_ms", 0) / 1000)
        yield p99

    def _llm(self) -> Iterator[Metric]:
        calls = self.review["llm"]["calls"]
        latency = HistogramMetricFamily(
            f"{PREFIX}_llm_call_seconds", "Model call latency", labels=["run_id", "agent"]
        )
        for agent in sorted({c["agent"] for c in calls}):
            mine = [c["latency_s"] for c in calls if c["agent"] == agent]
            buckets = [(_le(b), sum(v <= b for v in mine)) for b in LLM_BUCKETS_S]
            latency.add_metric([self.run_id, agent], [*buckets, ("+Inf", len(mine))], sum(mine))
        yield latency
        tokens = CounterMetricFamily(
            f"{PREFIX}_llm_tokens", "Model tokens by kind", labels=["run_id", "kind"]
        )
        usage = self.review["llm"]["usage"]
        for field in USAGE_FIELDS:
            tokens.add_metric([self.run_id, field.removesuffix("_tokens")], usage.get(field, 0))
        yield tokens
        cost = self.review["llm"]["cost_usd"]
        if cost is not None:
            gauge = GaugeMetricFamily(
                f"{PREFIX}_llm_cost_usd", "Estimated model cost", labels=["run_id"]
            )
            gauge.add_metric([self.run_id], cost)
            yield gauge

    def _run(self) -> Iterator[Metric]:
        run = self.review["run"]
        chapters = GaugeMetricFamily(
            f"{PREFIX}_run_chapters", "Chapters by outcome", labels=["run_id", "status"]
        )
        statuses = Counter(c["status"] for c in self.review["chapters"])
        for status in ("written", "revised", "edited", "failed"):
            chapters.add_metric([self.run_id, status], statuses.get(status, 0))
        yield chapters
        wall = GaugeMetricFamily(
            f"{PREFIX}_run_wall_seconds", "Wall time of the run", labels=["run_id"]
        )
        wall.add_metric([self.run_id], run["wall_s"] or 0)
        yield wall

    def _writing(self) -> Iterator[Metric]:
        writing = self.review.get("writing")
        if writing is None:
            return
        for key, doc in WRITING_GAUGES:
            book = GaugeMetricFamily(f"{PREFIX}_book_{key}", f"{doc}, the book", labels=["run_id"])
            if writing["book"].get(key) is not None:
                book.add_metric([self.run_id], writing["book"][key])
            yield book
            if key not in BOOK_ONLY:
                chapter = GaugeMetricFamily(
                    f"{PREFIX}_chapter_{key}", f"{doc}, per chapter", labels=["run_id", "chapter"]
                )
                for c in writing["chapters"]:
                    if c.get(key) is not None:  # threads: not known in an older run
                        chapter.add_metric([self.run_id, str(c["chapter"])], c[key])
                yield chapter


def _le(seconds: float) -> str:
    return f"{seconds:g}"
