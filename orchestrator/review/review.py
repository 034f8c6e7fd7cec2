"""Everything a review of a run needs, as one JSON-ready dict (the ``json`` export).

Built from the run folder alone (``metrics.json``, ``summary.json``,
``findings.json``, ``run.json``, ``chapters/`` and the log), so ``orchestrator
metrics export`` works on any finished run, and the CSV, Prometheus and HTML
exports are views of this one dict. It leads with the figures about the writing
(``writing``: see ``orchestrator.review.writing``), which ``summary.json`` keeps.

Times are seconds since the run started (``run.json``'s ``started_at``), one clock
for every process of a resumed run: model calls are placed by their wall-clock
start, the store's operations by the wall-clock start of the store's metrics. (A
run from before those were recorded keeps the store's clock, as it did.)
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime
from typing import Any

from orchestrator.artifacts.folder import RUN_FILE, SUMMARY_FILE, RunFolder, RunFolderError
from orchestrator.review.run_writing import run_writing

REVIEW_FORMAT = "novel-orchestrator-review"
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# Log events listed as errors, besides every event logged at level error.
ERROR_EVENTS = ("chapter_failed", "continuity_editor_failed")


def build_review(folder: RunFolder) -> dict[str, Any]:
    """The review of the finished run in ``folder``."""
    for name in ("metrics.json", SUMMARY_FILE):
        if not folder.path(name).is_file():
            raise RunFolderError(f"{folder.root} has no {name}: the run has not finished")
    metrics = folder.read_json("metrics.json")
    summary = folder.read_json(SUMMARY_FILE)
    findings_path = folder.path("findings.json")
    findings = folder.read_json("findings.json") if findings_path.is_file() else []
    origin = _run_origin(folder, summary)
    state_s = _state_start(metrics, origin)
    calls = calls_on_run_clock(metrics, origin, state_s)
    state = metrics["state"]
    detail = metrics.get("state_detail", {})
    series = [[round(op[0] + state_s, 6), *op[1:]] for op in detail.get("series", [])]
    events = [_shifted(e, state_s) for e in state.get("events", [])]
    log = log_events(folder)
    return {
        "format": REVIEW_FORMAT,
        "version": 3,
        "run": _run_part(summary),
        "writing": _writing(folder, summary, findings),
        "clock": {
            "origin": None if origin is None else origin.isoformat().replace("+00:00", "Z"),
            "state_start_s": round(state_s, 6),
            "sessions": sessions(calls),
        },
        "state": {
            **state,
            "events": events,
            "buckets": detail.get("buckets", {}),
            "throughput_over_time": throughput_over_time(series),
            "threshold_events": events,
            "thresholds": metrics.get("state_thresholds", {}),
            "operations": series,
            "operations_dropped": detail.get("series_dropped", 0),
        },
        "llm": {
            "calls": calls,
            "usage": metrics["llm"]["usage"],
            "cost_usd": _cost([c["usage"] for c in calls]),
            "critical_path_calls": metrics["llm"].get("critical_path_calls"),
            "by_agent": by_agent(calls),
            "by_provider": by_provider(calls),
        },
        "chapters": per_chapter(summary.get("chapter_outcomes", []), calls),
        "timeline": timeline(calls),
        "retries": retries(log, origin),
        "errors": errors(log, calls, origin),
        "findings": findings,
    }


def _run_part(summary: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "run_id", "title", "language", "run_dir", "state_url", "started_at", "finished_at",
        "wall_s", "chapters", "written", "revised", "failed", "revisions", "words",
        "model_calls", "critical_path_calls", "usage",
    )  # fmt: skip
    part = {key: summary.get(key) for key in keys}
    # What ``words`` counts: characters in a Chinese book (agents.wordcount), else words.
    part["length_unit"] = "characters" if part["language"] == "zh" else "words"
    return part


def _writing(
    folder: RunFolder, summary: dict[str, Any], findings: list[dict[str, Any]]
) -> dict[str, Any]:
    """The writing figures the run kept in its summary, else (a run from before them)
    worked out from the folder, without the thread figures."""
    kept = summary.get("writing")
    if isinstance(kept, dict):
        return kept
    outcomes = summary.get("chapter_outcomes", [])
    chapters = [int(f["chapter"]) for f in findings if isinstance(f.get("chapter"), int)]
    figures = run_writing(folder, outcomes, chapters, summary.get("language"))
    return figures.model_dump(mode="json")


def _moment(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _run_origin(folder: RunFolder, summary: dict[str, Any]) -> datetime | None:
    """When the run started: its first process (``run.json``), not the last resume."""
    first = None
    if folder.path(RUN_FILE).is_file():
        first = _moment(folder.read_json(RUN_FILE).get("started_at"))
    return first or _moment(summary.get("started_at"))


def _state_start(metrics: dict[str, Any], origin: datetime | None) -> float:
    """Seconds from the run's start to the start of the store's metrics (the last process's
    store), or 0.0 when unknown (older runs: then the store's clock is the review's)."""
    started = _moment(metrics.get("clock", {}).get("state_started_at"))
    if started is None or origin is None:
        return 0.0
    return (started - origin).total_seconds()


def _shifted(event: dict[str, Any], offset_s: float) -> dict[str, Any]:
    if "t_s" not in event:
        return event
    return {**event, "t_s": round(event["t_s"] + offset_s, 3)}


def calls_on_run_clock(
    metrics: dict[str, Any], origin: datetime | None, state_s: float = 0.0
) -> list[dict[str, Any]]:
    """Model calls with ``start_s``/``end_s`` in seconds since the run started.

    A call's ``started_s`` counts from the start of the process that made it, so
    the calls of a resumed run's processes would overlap; its ``started_at``
    (wall clock) puts all of them on one clock. A call without one (older runs)
    is placed through the offset between the client's and the store's clocks.
    """
    offset = float(metrics.get("clock", {}).get("llm_minus_state_s", 0.0)) + state_s
    calls = []
    for call in metrics["llm"]["calls"]:
        at = _moment(call.get("started_at"))
        if at is not None and origin is not None:
            start = (at - origin).total_seconds()
        else:
            start = call["started_s"] + offset
        calls.append(
            {**call, "start_s": round(start, 6), "end_s": round(start + call["latency_s"], 6)}
        )
    return calls


def sessions(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each process of the run (0: the first, 1: its first resume...) with its first call."""
    starts: dict[int, float] = {}
    for call in calls:
        session = int(call.get("session", 0))
        starts[session] = min(starts.get(session, call["start_s"]), call["start_s"])
    return [{"session": k, "first_call_s": v} for k, v in sorted(starts.items())]


def _cost(usages: list[dict[str, Any]]) -> float | None:
    """The summed cost estimate, or None when no call carries one (metrics of older runs)."""
    costs = [u["cost_usd"] for u in usages if isinstance(u.get("cost_usd"), (int, float))]
    return round(sum(costs), 6) if costs else None


def by_agent(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Calls, failures, tokens, model time and cost per agent, provider and model."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        groups[(call["agent"], call.get("provider") or "", call["model"])].append(call)
    order = {"bible": 0, "planner": 1, "writer": 2, "extractor": 3, "summarizer": 4, "editor": 5}
    rows = []
    for (agent, provider, model), mine in sorted(
        groups.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0])
    ):
        rows.append(
            {
                "agent": agent,
                "provider": provider or None,
                "model": model,
                "calls": len(mine),
                "failed_calls": sum(1 for c in mine if c.get("error")),
                **{f: sum(c["usage"].get(f, 0) for c in mine) for f in USAGE_FIELDS},
                "latency_s": round(sum(c["latency_s"] for c in mine), 6),
                "cost_usd": _cost([c["usage"] for c in mine]),
            }
        )
    return rows


def by_provider(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Calls, failures, tokens and cost per provider and model (``provider`` None: a run
    from before it was recorded)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for call in calls:
        groups[(call.get("provider") or "", call["model"])].append(call)
    return [
        {
            "provider": provider or None,
            "model": model,
            "calls": len(mine),
            "failed_calls": sum(1 for c in mine if c.get("error")),
            **{f: sum(c["usage"].get(f, 0) for c in mine) for f in USAGE_FIELDS},
            "cost_usd": _cost([c["usage"] for c in mine]),
        }
        for (provider, model), mine in sorted(groups.items())
    ]


def log_events(folder: RunFolder) -> list[dict[str, Any]]:
    """The run's log (every process's, appended), or nothing when it is missing."""
    try:
        text = folder.log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill
        if isinstance(event, dict):
            events.append(event)
    return events


def _t(event: dict[str, Any], origin: datetime | None) -> float | None:
    at = _moment(event.get("timestamp"))
    return None if at is None or origin is None else round((at - origin).total_seconds(), 3)


def retries(log: list[dict[str, Any]], origin: datetime | None) -> list[dict[str, Any]]:
    """Every model call the client tried again (``model_call_retry`` in the log)."""
    return [
        {
            "t_s": _t(e, origin),
            "agent": e.get("agent"),
            "chapter": e.get("chapter"),
            "reason": e.get("reason") or "?",
            "wait_s": e.get("wait_s") or 0.0,
        }
        for e in log
        if e.get("event") == "model_call_retry"
    ]


def errors(
    log: list[dict[str, Any]], calls: list[dict[str, Any]], origin: datetime | None
) -> list[dict[str, Any]]:
    """Model calls that failed (after their retries), failed chapter attempts and the
    errors in the log, in time order."""
    rows: list[dict[str, Any]] = [
        {"t_s": c["start_s"], "kind": "call", "agent": c["agent"], "chapter": c["chapter"],
         "attempt": c["attempt"], "error": c["error"]}
        for c in calls
        if c.get("error")
    ]  # fmt: skip
    for e in log:
        name = e.get("event")
        if name == "chapter_failed":
            rows.append(
                {"t_s": _t(e, origin), "kind": "chapter", "chapter": e.get("chapter"),
                 "attempt": e.get("attempt"), "error": str(e.get("error"))}
            )  # fmt: skip
        elif e.get("level") in ("error", "critical") or name in ERROR_EVENTS:
            detail = e.get("error") or e.get("detail") or ""
            rows.append(
                {"t_s": _t(e, origin), "kind": "log", "event": name, "chapter": e.get("chapter"),
                 "error": str(detail)}
            )  # fmt: skip
    return sorted(rows, key=lambda r: (r["t_s"] is None, r["t_s"] or 0.0))


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
