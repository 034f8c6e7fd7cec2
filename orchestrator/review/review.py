"""Everything a review of a run needs, as one JSON-ready dict (the ``json`` export).

Built from the run folder alone (``metrics.json``, ``summary.json``,
``findings.json``), so ``orchestrator metrics export`` works on any finished
run, and the CSV, Prometheus and HTML exports are views of this one dict.
Times are seconds since the state store was opened; model calls are moved
onto that clock.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from orchestrator.artifacts.folder import SUMMARY_FILE, RunFolder, RunFolderError

REVIEW_FORMAT = "novel-orchestrator-review"
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def build_review(folder: RunFolder) -> dict[str, Any]:
    """The review of the finished run in ``folder``."""
    for name in ("metrics.json", SUMMARY_FILE):
        if not folder.path(name).is_file():
            raise RunFolderError(f"{folder.root} has no {name}: the run has not finished")
    metrics = folder.read_json("metrics.json")
    summary = folder.read_json(SUMMARY_FILE)
    findings_path = folder.path("findings.json")
    findings = folder.read_json("findings.json") if findings_path.is_file() else []
    calls = _calls_on_state_clock(metrics)
    state = metrics["state"]
    detail = metrics.get("state_detail", {})
    return {
        "format": REVIEW_FORMAT,
        "version": 1,
        "run": _run_part(summary),
        "state": {
            **state,
            "buckets": detail.get("buckets", {}),
            "throughput_over_time": throughput_over_time(detail.get("series", [])),
            "threshold_events": state.get("events", []),
            "thresholds": metrics.get("state_thresholds", {}),
            "operations": detail.get("series", []),
            "operations_dropped": detail.get("series_dropped", 0),
        },
        "llm": {
            "calls": calls,
            "usage": metrics["llm"]["usage"],
            "cost_usd": _cost([c["usage"] for c in calls]),
            "critical_path_calls": metrics["llm"].get("critical_path_calls"),
        },
        "chapters": per_chapter(summary.get("chapter_outcomes", []), calls),
        "timeline": timeline(calls),
        "findings": findings,
    }


def _run_part(summary: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "run_id", "title", "language", "run_dir", "state_url", "started_at", "finished_at",
        "wall_s", "chapters", "written", "revised", "failed", "revisions", "words",
        "model_calls", "critical_path_calls", "usage",
    )  # fmt: skip
    return {key: summary.get(key) for key in keys}


def _calls_on_state_clock(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Model calls with ``start_s``/``end_s`` on the state metrics' clock."""
    offset = float(metrics.get("clock", {}).get("llm_minus_state_s", 0.0))
    calls = []
    for call in metrics["llm"]["calls"]:
        start = call["started_s"] + offset
        calls.append(
            {**call, "start_s": round(start, 6), "end_s": round(start + call["latency_s"], 6)}
        )
    return calls


def _cost(usages: list[dict[str, Any]]) -> float | None:
    """The summed cost estimate, or None when no call carries one (metrics of older runs)."""
    costs = [u["cost_usd"] for u in usages if isinstance(u.get("cost_usd"), (int, float))]
    return round(sum(costs), 6) if costs else None


STEPS_S = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


def throughput_over_time(series: list[list[Any]]) -> list[dict[str, Any]]:
    """Per step of the run (about 50 steps, a round length): write operations,
    operations/s, lock-wait P99 and max (reads left out)."""
    span = series[-1][0] if series else 0.0
    step_s = next((s for s in STEPS_S if s >= span / 50), STEPS_S[-1])
    bins: dict[int, list[float]] = defaultdict(list)
    for t, _op, wait_ms, _hold_ms, outcome in series:
        if outcome != "read":
            bins[int(t // step_s)].append(wait_ms)
    rows = []
    for index in sorted(bins):
        waits = sorted(bins[index])
        p99 = waits[max(0, math.ceil(len(waits) * 0.99) - 1)]
        rows.append(
            {
                "t_s": round(index * step_s, 3),
                "step_s": step_s,
                "ops": len(waits),
                "ops_per_s": round(len(waits) / step_s, 1),
                "lock_wait_p99_ms": round(p99, 3),
                "lock_wait_max_ms": round(waits[-1], 3),
            }
        )
    return rows


def timeline(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each chapter attempt's writing span, on a worker lane.

    The coordinator's writers are interchangeable tasks, so the lane is
    assigned here from the spans: an attempt takes the lowest lane free when
    it starts (at most ``workers`` lanes are ever busy at once).
    """
    spans: dict[tuple[int, int], list[float]] = {}
    for call in calls:
        if call["agent"] != "writer" or call["chapter"] is None:
            continue
        key = (call["chapter"], call["attempt"] or 1)
        span = spans.setdefault(key, [call["start_s"], call["end_s"]])
        span[0], span[1] = min(span[0], call["start_s"]), max(span[1], call["end_s"])
    lanes_free_at: list[float] = []
    rows = []
    for (chapter, attempt), (start, end) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        lane = next((i for i, free in enumerate(lanes_free_at) if free <= start), None)
        if lane is None:
            lane = len(lanes_free_at)
            lanes_free_at.append(end)
        lanes_free_at[lane] = end
        rows.append(
            {
                "chapter": chapter,
                "attempt": attempt,
                "worker": lane + 1,
                "start_s": start,
                "end_s": end,
            }
        )
    return rows


def per_chapter(
    outcomes: list[dict[str, Any]], calls: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each chapter's outcome with its model latency, tokens and cost over all its calls."""
    by_chapter: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        if call["chapter"] is not None:
            by_chapter[call["chapter"]].append(call)
    rows = []
    for outcome in outcomes:
        mine = by_chapter.get(outcome["chapter"], [])
        usage = {f: sum(c["usage"].get(f, 0) for c in mine) for f in USAGE_FIELDS}
        rows.append(
            {
                **outcome,
                "revisions": max(0, outcome["attempts"] - 1),
                "model_calls": len(mine),
                "model_latency_s": round(sum(c["latency_s"] for c in mine), 6),
                **usage,
                "cost_usd": _cost([c["usage"] for c in mine]),
            }
        )
    return rows
