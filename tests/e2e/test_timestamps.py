"""Every timestamp in the files a run writes has one format: UTC, ISO 8601, with ``Z``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from state.models import utc_iso
from tests.e2e.conftest import Run

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
LOOKS_LIKE_A_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


def strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{where}[{index}]")


def documents(folder: Path) -> Iterator[tuple[str, Any]]:
    for path in sorted(folder.rglob("*.json")):
        yield str(path.relative_to(folder)), json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(folder.rglob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield f"{path.relative_to(folder)}:{number}", json.loads(line)


def test_every_timestamp_a_run_writes_is_utc_iso_with_z(en_run: Run) -> None:
    found: dict[str, str] = {}
    for name, doc in [*documents(en_run.folder), ("state history", en_run.history())]:
        for where, text in strings(doc, name):
            if LOOKS_LIKE_A_TIME.match(text):
                found[where] = text
    names = {where.partition(".")[0].partition(":")[0].partition("[")[0] for where in found}
    # the files that carry times: the run record, summary, manifest, model calls, logs, store
    assert {"run", "summary", "MANIFEST", "model_calls", "state history"} <= {
        n.removesuffix(".json").removesuffix(".jsonl") for n in names
    }, names
    wrong = {where: text for where, text in found.items() if not ISO_Z.fullmatch(text)}
    assert wrong == {}


def test_utc_iso_keeps_the_microseconds_even_when_zero() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    assert utc_iso(datetime(2025, 3, 1, 9, 30, tzinfo=UTC)) == "2025-03-01T09:30:00.000000Z"
    paris = datetime(2025, 3, 1, 10, 30, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert utc_iso(paris) == "2025-03-01T09:30:00.000005Z"
