"""The ``csv`` export: one row per state operation and one per model call, in time
order, then the writing figures: one row per chapter and one for the book.

One table with a ``kind`` column (``state_op``, ``model_call``, ``chapter_writing``,
``book_writing``) and the union of the kinds' columns, so a spreadsheet or
``pandas.read_csv`` gets it in one go; a column that does not apply to a row's kind
is empty.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from orchestrator.review.review import USAGE_FIELDS

# The writing figures, as ``review["writing"]`` names them (a chapter's and the book's).
WRITING_FIELDS = (
    "length", "length_score", "continuations", "stop_reason", "revisions", "repeated_pct",
    "repeated_within_pct", "repeated_across_pct", "overused", "overused_per_10k", "findings",
    "findings_per_10k", "threads_due", "threads_on_time",
)  # fmt: skip

COLUMNS = (
    "kind", "t_s", "operation", "outcome", "lock_wait_ms", "hold_ms",
    "agent", "model", "chapter", "attempt", "latency_ms", *USAGE_FIELDS, "cost_usd", "error",
    *WRITING_FIELDS,
)  # fmt: skip


def review_csv(review: dict[str, Any]) -> str:
    """The CSV text, state operations and model calls in time order."""
    rows = [_state_row(op) for op in review["state"]["operations"]]
    rows += [_call_row(call) for call in review["llm"]["calls"]]
    rows.sort(key=lambda row: float(row["t_s"]))
    rows += _writing_rows(review.get("writing"))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _state_row(op: list[Any]) -> dict[str, Any]:
    t, name, wait_ms, hold_ms, outcome = op
    return {
        "kind": "state_op",
        "t_s": t,
        "operation": name,
        "outcome": outcome,
        "lock_wait_ms": wait_ms,
        "hold_ms": hold_ms,
    }


def _call_row(call: dict[str, Any]) -> dict[str, Any]:
    usage = call["usage"]
    return {
        "kind": "model_call",
        "t_s": call["start_s"],
        "agent": call["agent"],
        "model": call["model"],
        "chapter": "" if call["chapter"] is None else call["chapter"],
        "attempt": "" if call["attempt"] is None else call["attempt"],
        "latency_ms": round(call["latency_s"] * 1000, 3),
        **{field: usage.get(field, 0) for field in USAGE_FIELDS},
        "cost_usd": usage.get("cost_usd", ""),
        "error": call.get("error") or "",
    }


def _writing_rows(writing: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A row per chapter and one for the book (none for a review without the figures)."""
    if writing is None:
        return []
    rows = [{"kind": "chapter_writing", **_figures(c)} for c in writing["chapters"]]
    rows.append({"kind": "book_writing", **_figures(writing["book"])})
    return rows


def _figures(figures: dict[str, Any]) -> dict[str, Any]:
    picked = {k: figures.get(k) for k in ("chapter", *WRITING_FIELDS)}
    return {k: "" if v is None else v for k, v in picked.items()}
