"""A run's retries and errors, counted by reason, with the time the retries waited.

Read from what every process of the run left, so a finished run's summary and a
running run's ``status`` count the same way and count the whole run: the log
(``logs/run.jsonl``: each ``model_call_retry`` with its reason and wait, each
failed chapter attempt and each error) and the call journal (each model call
that failed after its retries).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.artifacts.folder import RunFolder
from orchestrator.review.review import ERROR_EVENTS, log_events


class ReasonCount(BaseModel):
    """How often one reason came up, and the seconds waited for it (retries only)."""

    model_config = ConfigDict(extra="forbid")

    reason: str
    count: int
    waited_s: float = 0.0


class Incidents(BaseModel):
    """The retries and errors of a run (the summary's ``retries_and_errors``)."""

    model_config = ConfigDict(extra="forbid")

    retries: list[ReasonCount] = Field(
        default_factory=list, description="model calls tried again, by reason, most first"
    )
    errors: list[ReasonCount] = Field(
        default_factory=list,
        description="model calls failed after their retries, chapter attempts failed and "
        "errors logged, by reason, most first",
    )

    @property
    def retry_count(self) -> int:
        return sum(r.count for r in self.retries)

    @property
    def waited_s(self) -> float:
        return round(sum(r.waited_s for r in self.retries), 3)

    @property
    def error_count(self) -> int:
        return sum(e.count for e in self.errors)


def run_incidents(folder: RunFolder, calls: Iterable[dict[str, Any]]) -> Incidents:
    """The incidents of the run in ``folder``; ``calls`` as the journal holds them."""
    return count_incidents(log_events(folder), calls)


def count_incidents(log: Iterable[dict[str, Any]], calls: Iterable[dict[str, Any]]) -> Incidents:
    """Retries and errors by reason, from log events and call records."""
    retries: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        if call.get("error"):
            errors[f"{call.get('agent')} call: {call['error']}"].append(0.0)
    for event in log:
        name = event.get("event")
        if name == "model_call_retry":
            retries[str(event.get("reason") or "?")].append(float(event.get("wait_s") or 0.0))
        elif name == "chapter_failed":
            errors[f"chapter attempt: {_gist(event.get('error'))}"].append(0.0)
        elif event.get("level") in ("error", "critical") or name in ERROR_EVENTS:
            errors[str(name)].append(0.0)
    return Incidents(retries=_counted(retries), errors=_counted(errors))


def _gist(error: Any) -> str:
    """An error's kind without its details: ``no valid reply after 2 attempts``, ``400
    invalid_request_error`` (the text up to its first colon), so like errors group."""
    return str(error or "?").partition(":")[0].strip() or "?"


def _counted(groups: dict[str, list[float]]) -> list[ReasonCount]:
    rows = [
        ReasonCount(reason=reason, count=len(waits), waited_s=round(sum(waits), 3))
        for reason, waits in groups.items()
    ]
    return sorted(rows, key=lambda r: (-r.count, r.reason))
