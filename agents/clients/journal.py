"""``model_calls.jsonl``: every model call of a run, across the processes that worked on it.

A line is appended (and flushed) as each call finishes, so what a killed run
spent is known to its resume: the summary's usage and cost, the metrics and
the budget then count every process, not only the last. A line torn by a
kill is dropped when the journal is next opened.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import structlog

from agents.clients.base import Usage

log = structlog.get_logger("orchestrator.calls")

JOURNAL_FILE = "model_calls.jsonl"


def call_to_json(call: Any) -> dict[str, Any]:
    """A call record as one JSON object (its usage as a nested object)."""
    return {**asdict(call), "usage": call.usage.model_dump()}


class CallJournal:
    """Appends call records to a file; reads back what earlier processes wrote."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def read(self, repair: bool = True) -> list[dict[str, Any]]:
        """The records written so far. With ``repair`` (a process about to append) a torn
        last line is cut off the file; without it (a reader such as ``status``, while the
        run may be writing) the file is left as it is and only whole lines are read."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        whole = data[: data.rfind(b"\n") + 1]
        if repair and len(whole) != len(data):
            log.warning(
                "call_journal_torn_line", path=str(self.path), dropped=len(data) - len(whole)
            )
            with open(self.path, "r+b") as handle:
                handle.truncate(len(whole))
        records = []
        for line in whole.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                record["usage"] = Usage(**record["usage"])
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("call_journal_bad_line", path=str(self.path), error=str(exc))
                continue
            records.append(record)
        return records

    def append(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()  # in the kernel's hands: survives a kill of this process

    def close(self) -> None:
        if self._handle is not None:
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
