"""The ``html`` export: one self-contained report page (styles and charts inline).

It opens with the book, for its author: how it reads (the writing figures of
``orchestrator.review.writing``), the chapters with their length, status and
figures, the continuity findings, how it was written (timeline, tokens), the
cost per agent and model, and the retries and errors. The state store's figures
follow, for the engineer. The page is in the book's language (``lang`` and every label, from
``prompts/report.<language>.yaml``, beside the run's other labels). It needs no
network and no other file: the charts are inline SVG, the styles a ``<style>``
block, and every text from the run is escaped.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import cache
from html import escape
from typing import Any

from agents import yamltext
from agents.prompts import default_prompts_dir
from orchestrator.review import charts

LANGUAGES = ("en", "zh")

_STYLE = """
body { font: 15px/1.5 system-ui, "Noto Sans CJK SC", "WenQuanYi Zen Hei", sans-serif;
       margin: 2em auto; max-width: 1000px; padding: 0 1em; color: #222; }
h1 { font-size: 1.8em; margin-bottom: 0.1em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h2.engineer { margin-top: 3em; color: #555; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f4f6f7; } td.text, th.text { text-align: left; }
tr.total td { font-weight: bold; }
.warn { background: #fdedec; } .ok { background: #eafaf1; padding: 0.3em 0.6em; }
.status-failed { color: #c0392b; font-weight: bold; } .status-revised { color: #b9770e; }
figure { margin: 0.8em 0; } svg { max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #555; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em 0 1em;
          vertical-align: -0.1em; border-radius: 2px; }
.swatch.line { height: 0.2em; vertical-align: 0.25em; }
.muted { color: #777; } .lead { font-size: 1.05em; }
"""


@cache
def labels(language: str) -> dict[str, str]:
    """The report's texts in ``language`` (English for a language without a file)."""
    name = f"report.{language if language in LANGUAGES else 'en'}.yaml"
    text = (default_prompts_dir() / name).read_text(encoding="utf-8")
    return dict(yamltext.safe_load(text))


class _Texts:
    """Labels of one language; ``t(key, **fields)`` fills a label's ``{fields}``."""

    def __init__(self, language: str) -> None:
        self.lang = language if language in LANGUAGES else "en"
        self.texts = labels(self.lang)

    def __call__(self, key: str, **fields: Any) -> str:
        return self.texts[key].format(**fields) if fields else self.texts[key]

    def status(self, status: str) -> str:
        return self.texts.get(f"status_{status}", status)

    def agent(self, agent: str) -> str:
        return self.texts.get(f"agent_{agent}", agent)

    def seconds(self, value: float | None) -> str:
        return self("seconds", value="?" if value is None else f"{value:,.1f}")


def review_html(review: dict[str, Any]) -> str:
    """The whole page."""
    run = review["run"]
    t = _Texts(str(run.get("language") or "en"))
    sections = [
        f"<h1>{escape(str(run['title']))}</h1>",
        f"<p class='muted'>{escape(_subtitle(t, run))}</p>",
        *_book(review, t),
        *_findings(review, t),
        *_writing(review, t),
        *_cost(review, t),
        *_problems(review, t),
        *_engineer(review, t),
    ]
    body = "\n".join(sections)
    return (
        f"<!DOCTYPE html>\n<html lang='{t.lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(t('page_title', title=run['title']))}</title>"
        f"<style>{_STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _figure(svg: str, caption: str, legend: list[tuple[str, str, bool]]) -> str:
    """A chart with its caption (what the axes are) and legend (color, label, line?)."""
    keys = "".join(
        f"<span class='swatch{' line' if line else ''}' style='background:{color}'></span>"
        f"{escape(label)}"
        for color, label, line in legend
    )
    return f"<figure>{svg}<figcaption>{escape(caption)}<br>{keys}</figcaption></figure>"


def _table(
    headers: list[str],
    rows: list[list[Any]],
    text_columns: int = 1,
    classes: list[str] | None = None,
    text_at: tuple[int, ...] = (),
) -> str:
    def cell(tag: str, index: int, value: Any) -> str:
        kind = " class='text'" if index < text_columns or index in text_at else ""
        return f"<{tag}{kind}>{escape('' if value is None else str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    thead = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join(
        (f"<tr class='{classes[n]}'>" if classes and classes[n] else "<tr>")
        + "".join(cell("td", i, v) for i, v in enumerate(row))
        + "</tr>"
        for n, row in enumerate(rows)
    )
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _money(value: float | None, t: _Texts) -> str:
    return t("cost_unknown") if value is None else f"${value:,.4f}"


# -- for the author ---------------------------------------------------------------------


def _book(review: dict[str, Any], t: _Texts) -> list[str]:
    """The book: what was written, how it reads (the writing figures), chapter by chapter."""
    run, chapters = review["run"], review["chapters"]
    statuses = Counter(c["status"] for c in chapters)
    lead = t(
        "book_summary",
        written=run["written"],
        chapters=run["chapters"],
        revised=statuses.get("revised", 0),
        failed=statuses.get("failed", 0),
        length=f"{run['words'] or 0:,}",
        unit=t("unit_words"),
        calls=run["model_calls"],
        cost=_money(review["llm"]["cost_usd"], t),
    )
    writing = review.get("writing")
    figures = [] if writing is None else [_writing_figures(writing, t)]
    return [
        f"<h2>{escape(t('book'))}</h2>",
        f"<p class='lead'>{escape(lead)}</p>",
        *figures,
        _chapters_table(chapters, writing, t),
    ]


def _writing_figures(writing: dict[str, Any], t: _Texts) -> str:
    """The book's writing figures: one row per figure, its value told in words."""
    book = writing["book"]
    target = f"{book['target_per_chapter']:,} {t('unit_words')}"
    if book["threads_due"] is None:
        threads = t("fig_unknown")
    else:
        threads = t("fig_threads_value", due=book["threads_due"], on_time=book["threads_on_time"])
    rows = [
        [t("fig_length_score"),
         t("fig_length_score_value", score=f"{book['length_score']:.1f}", target=target)],
        [t("fig_continuations"), t("fig_continuations_value", n=book["continuations"])],
        [t("fig_revisions"), t("fig_revisions_value", n=book["revisions"],
                                per=f"{book['revisions_per_chapter']:.2f}")],
        [t("fig_repeated"), t("fig_repeated_value", pct=f"{book['repeated_pct']:.1f}",
                               n=writing["ngram"], within=f"{book['repeated_within_pct']:.1f}",
                               across=f"{book['repeated_across_pct']:.1f}")],
        [t("fig_overused"), t("fig_overused_value", rate=f"{book['overused_per_10k']:.2f}",
                               n=book["overused"])],
        [t("fig_findings"), t("fig_findings_value", rate=f"{book['findings_per_10k']:.2f}",
                               n=book["findings"])],
        [t("fig_threads"), threads],
    ]  # fmt: skip
    phrases = [t("fig_phrase", phrase=p["phrase"], n=p["count"]) for p in book["overused_phrases"]]
    if phrases:
        rows.append([t("fig_phrases"), (", " if t.lang == "en" else "、").join(phrases)])
    table = _table(["", ""], rows, text_columns=2)
    caption = escape(t("figures_caption"))
    return f"<figure class='figures'>{table}<figcaption>{caption}</figcaption></figure>"


def _chapters_table(
    chapters: list[dict[str, Any]], writing: dict[str, Any] | None, t: _Texts
) -> str:
    """Each chapter: title, status, attempts, length, and its writing figures."""
    figures = {c["chapter"]: c for c in (writing or {}).get("chapters", [])}
    notes = any(c.get("error") for c in chapters)
    rows, classes = [], []
    for c in chapters:
        row = [c["chapter"], c["title"], t.status(c["status"]), c["attempts"], f"{c['words']:,}"]
        if writing is not None:
            row += _chapter_figures(figures.get(c["chapter"]))
        rows.append([*row, c.get("error") or ""] if notes else row)
        classes.append(f"status-{c['status']}" if c["status"] != "written" else "")
    headers = [t("col_chapter"), t("col_title"), t("col_status"), t("col_attempts"),
               f"{t('col_length')} ({t('unit_short')})"]  # fmt: skip
    if writing is not None:
        headers += [t(f"col_{k}") for k in ("score", "continuations", "within", "across",
                                             "overused", "findings")]  # fmt: skip
    if notes:
        headers.append(t("col_note"))
    return _table(headers, rows, classes=classes, text_at=(1, 2, len(headers) - 1 if notes else 1))


def _chapter_figures(figures: dict[str, Any] | None) -> list[Any]:
    if figures is None:  # a failed chapter: no text to measure
        return [""] * 6
    return [
        f"{figures['length_score']:.1f}",
        figures["continuations"],
        f"{figures['repeated_within_pct']:.1f}",
        f"{figures['repeated_across_pct']:.1f}",
        f"{figures['overused_per_10k']:.2f}",
        f"{figures['findings_per_10k']:.2f}",
    ]


def _findings(review: dict[str, Any], t: _Texts) -> list[str]:
    findings = review["findings"]
    heading = f"<h2>{escape(t('findings'))}</h2>"
    if not findings:
        return [heading, f"<p class='ok'>{escape(t('findings_none'))}</p>"]
    rows = [
        [f.get("chapter"), t.texts.get(f"kind_{f.get('kind')}", str(f.get("kind"))),
         f.get("subject", ""), f.get("detail", "")]
        for f in sorted(findings, key=lambda f: (f.get("chapter") or 0))
    ]  # fmt: skip
    headers = [t("col_chapter"), t("col_kind"), t("col_subject"), t("col_detail")]
    return [heading, f"<p>{escape(t('findings_intro'))}</p>", _table(headers, rows, 4)]


def _failed_attempts(review: dict[str, Any]) -> set[tuple[int, int]]:
    return {
        (e["chapter"], e["attempt"])
        for e in review.get("errors", [])
        if e.get("kind") == "chapter" and e.get("chapter") and e.get("attempt")
    }


def _writing(review: dict[str, Any], t: _Texts) -> list[str]:
    run = review["run"]
    figures = t(
        "writing_figures",
        wall=t.seconds(run["wall_s"]),
        calls=run["model_calls"],
        critical=run["critical_path_calls"],
        revisions=run["revisions"],
    )
    c = charts.COLORS
    timeline = [
        (c["first"], t("legend_first"), False),
        (c["revision"], t("legend_revision"), False),
    ]
    failed = _failed_attempts(review)
    if failed:
        timeline.append((c["failed"], t("legend_failed"), False))
    if len(review.get("clock", {}).get("sessions", [])) > 1:
        timeline.append((c["resumed"], t("legend_resumed"), True))
    tokens = [(c["input"], t("legend_input"), False), (c["cached"], t("legend_cached"), False),
              (c["output"], t("legend_output"), False)]  # fmt: skip
    if any(ch["cost_usd"] is not None for ch in review["chapters"]):
        tokens.append((c["cost"], t("legend_cost"), True))
    return [
        f"<h2>{escape(t('writing'))}</h2>",
        f"<p>{escape(figures)}</p>",
        f"<h3>{escape(t('timeline'))}</h3>",
        _figure(charts.timeline_chart(review, failed), t("timeline_axes"), timeline),
        f"<h3>{escape(t('tokens'))}</h3>",
        _figure(charts.tokens_chart(review), t("tokens_axes"), tokens),
    ]


def _cost(review: dict[str, Any], t: _Texts) -> list[str]:
    rows = review["llm"].get("by_agent", [])
    table_rows = [
        [t.agent(r["agent"]), _served(r), r["calls"], r["failed_calls"], f"{r['input_tokens']:,}",
         f"{r['output_tokens']:,}", f"{r['cache_read_tokens']:,}", t.seconds(r["latency_s"]),
         "" if r["cost_usd"] is None else f"{r['cost_usd']:,.4f}"]
        for r in rows
    ]  # fmt: skip
    usage, cost = review["llm"]["usage"], review["llm"]["cost_usd"]
    table_rows.append(
        [t("total"), "", sum(r["calls"] for r in rows), sum(r["failed_calls"] for r in rows),
         f"{usage['input_tokens']:,}", f"{usage['output_tokens']:,}",
         f"{usage['cache_read_tokens']:,}", t.seconds(sum(r["latency_s"] for r in rows)),
         "" if cost is None else f"{cost:,.4f}"]
    )  # fmt: skip
    headers = [t("col_agent"), t("col_model"), t("col_calls"), t("col_failed_calls"),
               t("col_tokens_in"), t("col_tokens_out"), t("col_cached"), t("col_seconds"),
               t("col_cost")]  # fmt: skip
    classes = [""] * len(rows) + ["total"]
    return [f"<h2>{escape(t('cost'))}</h2>", _table(headers, table_rows, 2, classes)]


def _served(row: dict[str, Any]) -> str:
    """The model, and where it is served when that is not its own name (``offline``)."""
    provider = row.get("provider")
    return (
        row["model"] if not provider or provider == row["model"] else f"{row['model']} ({provider})"
    )


def _problems(review: dict[str, Any], t: _Texts) -> list[str]:
    parts = [f"<h2>{escape(t('problems'))}</h2>"]
    retries = review.get("retries", [])
    if not retries:
        parts.append(f"<p class='ok'>{escape(t('retries_none'))}</p>")
    else:
        groups: dict[tuple[str, str], list[float]] = {}
        for r in retries:
            groups.setdefault((str(r["agent"]), str(r["reason"])), []).append(r["wait_s"])
        rows = [[t.agent(agent), reason, len(waits), t.seconds(sum(waits))]
                for (agent, reason), waits in sorted(groups.items())]  # fmt: skip
        headers = [t("col_agent"), t("col_reason"), t("col_count"), t("col_waited")]
        parts += [f"<p>{escape(t('retries_intro', count=len(retries)))}</p>",
                  _table(headers, rows, 2)]  # fmt: skip
    errors = review.get("errors", [])
    if not errors:
        parts.append(f"<p class='ok'>{escape(t('errors_none'))}</p>")
        return parts
    rows = []
    for e in errors:
        if e["kind"] == "call":
            what = t("error_call", agent=t.agent(e["agent"]), error=e["error"])
        elif e["kind"] == "chapter":
            what = t("error_chapter", attempt=e["attempt"], error=e["error"])
        else:
            what = t("error_log", event=e.get("event"), detail=e["error"])
        rows.append([t.seconds(e["t_s"]), e.get("chapter") or "", what])
    headers = [t("col_when"), t("col_chapter"), t("col_what")]
    table = _table(headers, rows, 0, text_at=(2,))
    parts += [f"<p>{escape(t('errors_intro'))}</p>", f"<div class='warn'>{table}</div>"]
    return parts


# -- for the engineer -------------------------------------------------------------------


def _engineer(review: dict[str, Any], t: _Texts) -> list[str]:
    state, run = review["state"], review["run"]
    c = charts.COLORS
    summary = t(
        "store_summary",
        backend=state["backend"],
        committed=state["committed"],
        throughput=state["throughput_ops_s"],
        waits=_percentiles(state["lock_wait"], t),
    )
    parts = [
        f"<h2 class='engineer'>{escape(t('engineer'))}</h2>",
        f"<p>{escape(summary)}<br><span class='muted'>{escape(str(run['state_url']))}</span></p>",
    ]
    if len(review.get("clock", {}).get("sessions", [])) > 1:
        start = t.seconds(review["clock"]["state_start_s"])
        parts.append(f"<p class='muted'>{escape(t('store_resumed', start=start))}</p>")
    limits = state.get("thresholds", {})
    waits = [(c["p50"], t("legend_p50"), True), (c["p99"], t("legend_p99"), True),
             (c["max"], t("legend_max"), True)]  # fmt: skip
    if limits.get("lock_wait_p99_ms") is not None:
        waits.append(
            (c["limit"], t("legend_threshold", limit=f"{limits['lock_wait_p99_ms']:g}"), True)
        )
    ops = [(c["ops"], t("legend_ops"), False)]
    if limits.get("min_throughput_ops_s") is not None:
        ops.append(
            (c["limit"], t("legend_min_ops", limit=f"{limits['min_throughput_ops_s']:g}"), True)
        )
    if any(e.get("event") == "migrated" for e in state["threshold_events"]):
        waits.append((c["migrated"], t("legend_migrated"), True))
        ops.append((c["migrated"], t("legend_migrated"), True))
    return [
        *parts,
        _thresholds(review, t),
        _ops_table(review, t),
        f"<h3>{escape(t('lock_wait'))}</h3>",
        _figure(charts.lock_wait_chart(review), t("lock_wait_axes"), waits),
        f"<h3>{escape(t('throughput'))}</h3>",
        _figure(charts.throughput_chart(review), t("throughput_axes"), ops),
    ]


def _percentiles(summary: dict[str, Any], t: _Texts) -> str:
    if not summary.get("count"):
        return t("no_waits")
    keys = ("p50_ms", "p95_ms", "p99_ms", "p99.9_ms", "max_ms")
    return ", ".join(f"{k.removesuffix('_ms').upper()} {summary[k]} ms" for k in keys)


def _thresholds(review: dict[str, Any], t: _Texts) -> str:
    state = review["state"]
    limits = state.get("thresholds", {})
    events = state["threshold_events"]
    head = t(
        "thresholds",
        p99=_num(limits.get("lock_wait_p99_ms")),
        ops=_num(limits.get("min_throughput_ops_s")),
        action=limits.get("action", "warn"),
    )
    head = f"<p>{escape(head)}</p>"
    if not events:
        return head + f"<p class='ok'>{escape(t('thresholds_ok'))}</p>"
    rows = [
        [
            e.get("event"), e.get("at"), e.get("backend") or e.get("from"),
            e.get("lock_wait_p99_ms"), e.get("throughput_ops_s"), e.get("waiting_writers"),
            ", ".join(e.get("over", [])), e.get("recommended_backend") or e.get("to"),
            e.get("action") or e.get("error") or f"paused {e.get('pause_s')} s",
        ]
        for e in events
    ]  # fmt: skip
    headers = [t(f"col_{k}") for k in ("event", "at", "store", "p99", "ops", "waiting", "over",
                                        "to", "action")]  # fmt: skip
    return head + f"<div class='warn'>{_table(headers, rows, text_columns=3)}</div>"


def _num(value: Any) -> str:
    return "?" if value is None else f"{value:g}"


def _ops_table(review: dict[str, Any], t: _Texts) -> str:
    rows = []
    for op, stats in sorted(review["state"]["ops"].items()):
        wait, hold = stats["lock_wait"], stats["hold"]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats["outcomes"].items()))
        rows.append(
            [op, outcomes, wait.get("p50_ms"), wait.get("p99_ms"), wait.get("max_ms"),
             hold.get("p50_ms"), hold.get("p99_ms"), hold.get("max_ms")]
        )  # fmt: skip
    keys = ("operation", "outcomes", "wait_p50", "wait_p99", "wait_max", "hold_p50", "hold_p99",
            "hold_max")  # fmt: skip
    headers = [t(f"col_{k}") for k in keys]
    return _table(headers, rows, text_columns=2) + f"<p class='muted'>{escape(t('times_ms'))}</p>"


def _subtitle(t: _Texts, run: dict[str, Any]) -> str:
    """The run, when it started (to the minute, UTC: as a person reads it) and how long."""
    started = str(run["started_at"])
    try:
        when = datetime.fromisoformat(started.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        when = started
    return t("subtitle", run_id=run["run_id"], started_at=when, wall=t.seconds(run["wall_s"]))
