"""What ``orchestrator review RUN`` prints: the writing figures first (the book's, then
chapter by chapter), then the engineer's (time, model calls, tokens, the store's lock
waits). In the book's language, from ``prompts/labels.<lang>.yaml`` (``review``): a
Chinese book reads Chinese labels and counts in characters (字)."""

from __future__ import annotations

import unicodedata
from typing import Any

from agents.prompts import Labels, PromptLibrary

INDENT = "  "
# The figures of the book, in the order printed: (label key, how its value is told).
_BOOK_ROWS = (
    "length_score",
    "continuations",
    "revisions",
    "repeated",
    "overused",
    "findings",
    "threads",
)
_COLUMNS = (
    "chapter", "length", "score", "continuations", "revisions", "within", "across",
    "overused", "findings", "threads",
)  # fmt: skip


def review_digest(review: dict[str, Any]) -> dict[str, Any]:
    """What the printed review tells, as data (``orchestrator review --json``)."""
    run, llm, state = review["run"], review["llm"], review["state"]
    return {
        "run": run,
        "writing": review["writing"],
        "engineer": {
            "wall_s": run["wall_s"],
            "model_calls": run["model_calls"],
            "critical_path_calls": run["critical_path_calls"],
            "usage": llm["usage"],
            "cost_usd": llm["cost_usd"],
            "store": {
                "backend": state.get("backend"),
                "committed": state.get("committed"),
                "throughput_ops_s": state.get("throughput_ops_s"),
                "lock_wait": state.get("lock_wait", {}),
            },
        },
    }


def review_text(review: dict[str, Any]) -> str:
    """The printed review of a finished run."""
    run, writing = review["run"], review["writing"]
    labels = PromptLibrary().labels(str(run.get("language") or "en"))
    book = writing["book"]
    head = labels(
        "review.head",
        title=run["title"],
        run_id=run["run_id"],
        written=run["written"],
        chapters=run["chapters"],
        length=labels.count(book["length"]),
    )
    lines = [head, "", labels("review.writing")]
    lines += _aligned([(labels(f"review.{key}"), _book_value(key, writing, labels))
                       for key in _BOOK_ROWS])  # fmt: skip
    if book["overused_phrases"]:
        phrases = [labels("review.phrase", phrase=p["phrase"], n=p["count"])
                   for p in book["overused_phrases"]]  # fmt: skip
        lines += _aligned([(labels("review.phrases"), labels.join(phrases))])
    lines += ["", labels("review.chapters"), *_chapter_table(writing["chapters"], labels)]
    lines += ["", labels("review.engineer"), *_engineer(review, labels)]
    return "\n".join(lines) + "\n"


def _book_value(key: str, writing: dict[str, Any], labels: Labels) -> str:
    book = writing["book"]
    if key == "length_score":
        target = labels.count(book["target_per_chapter"])
        return labels(
            "review.length_score_value", score=f"{book['length_score']:.1f}", target=target
        )
    if key == "continuations":
        return labels("review.continuations_value", n=book["continuations"])
    if key == "revisions":
        per = f"{book['revisions_per_chapter']:.2f}"
        return labels("review.revisions_value", n=book["revisions"], per=per)
    if key == "repeated":
        return labels(
            "review.repeated_value",
            pct=f"{book['repeated_pct']:.1f}",
            n=writing["ngram"],
            within=f"{book['repeated_within_pct']:.1f}",
            across=f"{book['repeated_across_pct']:.1f}",
        )
    if key in ("overused", "findings"):
        rate = f"{book[f'{key}_per_10k']:.2f}"
        return labels(f"review.{key}_value", rate=rate, n=book[key])
    if book["threads_due"] is None:
        return labels("review.threads_unknown")
    return labels("review.threads_value", due=book["threads_due"], on_time=book["threads_on_time"])


def _chapter_table(chapters: list[dict[str, Any]], labels: Labels) -> list[str]:
    head = [labels(f"review.columns.{key}") for key in _COLUMNS]
    rows = [
        [str(c["chapter"]), f"{c['length']:,}", f"{c['length_score']:.1f}",
         str(c["continuations"]), str(c["revisions"]), f"{c['repeated_within_pct']:.1f}",
         f"{c['repeated_across_pct']:.1f}", f"{c['overused_per_10k']:.2f}",
         f"{c['findings_per_10k']:.2f}",
         f"{c['threads_on_time']}/{c['threads_due']}" if c["threads_due"] else "-"]
        for c in chapters
    ]  # fmt: skip
    widths = [max(width(row[i]) for row in [head, *rows]) for i in range(len(head))]
    return [
        INDENT
        + "  ".join(
            pad(cell, w, left=i > 0) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [head, *rows]
    ]


def _engineer(review: dict[str, Any], labels: Labels) -> list[str]:
    run, llm, state = review["run"], review["llm"], review["state"]
    usage, cost = llm["usage"], llm["cost_usd"]
    calls = labels(
        "review.calls",
        seconds=f"{run['wall_s'] or 0:.1f}",
        calls=run["model_calls"],
        critical=run["critical_path_calls"],
        input=f"{usage.get('input_tokens', 0):,}",
        output=f"{usage.get('output_tokens', 0):,}",
        cost="?" if cost is None else f"{cost:.4f}",
    )
    store = labels(
        "review.store",
        backend=state.get("backend", "?"),
        committed=state.get("committed", 0),
        throughput=state.get("throughput_ops_s", 0),
        waits=_waits(state.get("lock_wait", {}), labels),
    )
    return [INDENT + calls, INDENT + store]


def _waits(summary: dict[str, Any], labels: Labels) -> str:
    if not summary.get("count"):
        return labels("review.no_waits")
    keys = ("p50_ms", "p99_ms", "max_ms")
    return labels.join([f"{k.removesuffix('_ms').upper()} {summary[k]} ms" for k in keys])


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    wide = max(width(name) for name, _ in rows)
    return [f"{INDENT}{pad(name, wide)}  {value}" for name, value in rows]


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: two for a wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int, left: bool = False) -> str:
    """``text`` padded with spaces to ``columns`` (on the left: right-aligned)."""
    space = " " * max(0, columns - width(text))
    return space + text if left else text + space
