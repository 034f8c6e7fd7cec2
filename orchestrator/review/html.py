"""The ``html`` export: one self-contained review page (styles and charts inline).

It needs no network and no other file to be viewed: the charts are inline SVG
(``report_charts``), the styles a ``<style>`` block, and every text from the
run is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from orchestrator.review import charts

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f6f7; } td.text, th.text { text-align: left; }
.warn { background: #fdedec; } .ok { background: #eafaf1; }
figure { margin: 0.8em 0; } svg { max-width: 100%; height: auto; }
.muted { color: #777; }
"""


def review_html(review: dict[str, Any]) -> str:
    """The whole page."""
    run = review["run"]
    sections = [
        f"<h1>{escape(str(run['title']))}</h1>",
        f"<p class='muted'>run {escape(str(run['run_id']))} &middot; "
        f"{escape(str(run['started_at']))}</p>",
        _summary(review),
        "<h2>State store</h2>",
        _thresholds(review),
        _ops_table(review),
        "<h3>Lock wait over time</h3>",
        _figure(charts.lock_wait_chart(review)),
        "<h3>Throughput</h3>",
        _figure(charts.throughput_chart(review)),
        "<h2>Chapters</h2>",
        "<h3>Timeline: which worker wrote which chapter when</h3>",
        _figure(charts.timeline_chart(review)),
        "<h3>Tokens and cost per chapter</h3>",
        _figure(charts.tokens_chart(review)),
        _chapters_table(review),
        "<h2>Continuity findings</h2>",
        _findings(review),
    ]
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Review: {escape(str(run['title']))}</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _figure(svg: str) -> str:
    return f"<figure>{svg}</figure>"


def _table(headers: list[str], rows: list[list[Any]], text_columns: int = 1) -> str:
    def cell(tag: str, index: int, value: Any) -> str:
        kind = " class='text'" if index < text_columns else ""
        return f"<{tag}{kind}>{escape('' if value is None else str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    thead = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _summary(review: dict[str, Any]) -> str:
    run, state, llm = review["run"], review["state"], review["llm"]
    usage = llm["usage"]
    cost = llm["cost_usd"]
    chapters = (
        f"{run['written']}/{run['chapters']} written, {run['revised']} revised, "
        f"failed: {run['failed'] or 'none'}"
    )
    tokens = (
        f"in {usage['input_tokens']:,}, out {usage['output_tokens']:,}, "
        f"cache read {usage['cache_read_tokens']:,}, cache write {usage['cache_write_tokens']:,}"
    )
    operations = f"{state['committed']} committed, {state['throughput_ops_s']} ops/s over the run"
    rows = [
        ["chapters", chapters],
        ["revisions", run["revisions"]],
        ["words", run["words"]],
        ["wall time", f"{run['wall_s']} s"],
        ["model calls", f"{run['model_calls']} (critical path {run['critical_path_calls']})"],
        ["tokens", tokens],
        ["cost estimate", "not available for this model" if cost is None else f"${cost:,.4f}"],
        ["state store", f"{state['backend']}: {run['state_url']}"],
        ["state operations", operations],
        ["lock wait", _percentiles(state["lock_wait"])],
        ["findings", len(review["findings"])],
    ]
    return _table(["", ""], rows, text_columns=2)


def _percentiles(summary: dict[str, Any]) -> str:
    if not summary.get("count"):
        return "no waits recorded"
    keys = ("p50_ms", "p95_ms", "p99_ms", "p99.9_ms", "max_ms")
    return ", ".join(f"{k.removesuffix('_ms').upper()} {summary[k]} ms" for k in keys)


def _thresholds(review: dict[str, Any]) -> str:
    state = review["state"]
    limits = state.get("thresholds", {})
    events = state["threshold_events"]
    head = (
        f"<p>Thresholds: lock-wait P99 over {_num(limits.get('lock_wait_p99_ms'))} ms, or under "
        f"{_num(limits.get('min_throughput_ops_s'))} ops/s while writers wait; "
        f"action <b>{escape(str(limits.get('action', 'warn')))}</b>.</p>"
    )
    if not events:
        return head + "<p class='ok'>No threshold was crossed.</p>"
    rows = [
        [
            e.get("event"), e.get("at"), e.get("backend") or e.get("from"),
            e.get("lock_wait_p99_ms"), e.get("throughput_ops_s"), e.get("waiting_writers"),
            ", ".join(e.get("over", [])), e.get("recommended_backend") or e.get("to"),
            e.get("action") or e.get("error") or f"paused {e.get('pause_s')} s",
        ]
        for e in events
    ]  # fmt: skip
    headers = ["event", "at", "store", "P99 ms", "ops/s", "waiting", "over", "to", "action"]
    return head + f"<div class='warn'>{_table(headers, rows, text_columns=3)}</div>"


def _num(value: Any) -> str:
    return "?" if value is None else f"{value:g}"


def _ops_table(review: dict[str, Any]) -> str:
    rows = []
    for op, stats in sorted(review["state"]["ops"].items()):
        wait, hold = stats["lock_wait"], stats["hold"]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats["outcomes"].items()))
        rows.append(
            [op, outcomes, wait.get("p50_ms"), wait.get("p99_ms"), wait.get("max_ms"),
             hold.get("p50_ms"), hold.get("p99_ms"), hold.get("max_ms")]
        )  # fmt: skip
    headers = [
        "operation",
        "outcomes",
        "wait P50",
        "wait P99",
        "wait max",
        "hold P50",
        "hold P99",
        "hold max",
    ]
    return _table(headers, rows, text_columns=2) + "<p class='muted'>times in milliseconds</p>"


def _chapters_table(review: dict[str, Any]) -> str:
    rows = [
        [c["chapter"], c["title"], c["status"], c["attempts"], c["words"], c["model_calls"],
         round(c["model_latency_s"], 3), c["input_tokens"], c["output_tokens"],
         c["cache_read_tokens"], "" if c["cost_usd"] is None else f"{c['cost_usd']:.4f}"]
        for c in review["chapters"]
    ]  # fmt: skip
    headers = ["chapter", "title", "status", "attempts", "words", "calls", "model s",
               "tokens in", "out", "cached", "cost USD"]  # fmt: skip
    return _table(headers, rows, text_columns=3)


def _findings(review: dict[str, Any]) -> str:
    findings = review["findings"]
    if not findings:
        return "<p class='ok'>No continuity findings.</p>"
    rows = [
        [f.get("chapter"), f.get("kind"), f.get("subject", ""), f.get("detail", "")]
        for f in findings
    ]
    return _table(["chapter", "kind", "subject", "detail"], rows, text_columns=4)
