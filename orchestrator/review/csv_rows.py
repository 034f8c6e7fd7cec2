"""The ``csv`` export: one row per state operation and one per model call.

One table with a ``kind`` column (``state_op`` or ``model_call``) and the
union of both kinds' columns, so a spreadsheet or ``pandas.read_csv`` gets it
in one go; a column that does not apply to a row's kind is empty.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from orchestrator.review.review import USAGE_FIELDS

COLUMNS = (
    "kind", "t_s", "operation", "outcome", "lock_wait_ms", "hold_ms",
    "agent", "model", "chapter", "attempt", "latency_ms", *USAGE_FIELDS, "cost_usd", "error",
)  # fmt: skip


def review_csv(review: dict[str, Any]) -> str:
    """The CSV text, state operations and model calls in time order."""
    rows = [_state_row(op) for op in review["state"]["operations"]]
    rows += [_call_row(call) for call in review["llm"]["calls"]]
    rows.sort(key=lambda row: float(row["t_s"]))
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
