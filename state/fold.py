"""How deltas become state: pure functions shared by apply, snapshots and tests.

A change sets one top-level field of one document. The state as of chapter k
is the initial documents with, for every field, the value set by the highest
chapter below k that set it (the fold of the kept deltas in chapter order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from state.jsontypes import JSON

# A field's log: one entry per chapter that set it, sorted by chapter.
FieldLog = dict[str, list[dict[str, Any]]]


def field_value_before(log: list[dict[str, Any]], chapter: int, initial: JSON) -> JSON:
    """The value a field has for a chapter: the last entry below it, else the initial value."""
    value = initial
    for entry in log:
        if entry["c"] >= chapter:
            break
        value = entry["new"]
    return value


def materialize(initial: Mapping[str, JSON] | None, log: FieldLog) -> dict[str, JSON] | None:
    """The latest document from its initial version and its field logs."""
    if initial is None and not any(log.values()):
        return None
    doc = dict(initial or {})
    for field, entries in log.items():
        if entries:
            doc[field] = entries[-1]["new"]
    return doc


def fold(
    initial_docs: Mapping[str, Mapping[str, JSON]], changes: Iterable[tuple[str, str, JSON]]
) -> dict[str, dict[str, JSON]]:
    """Apply (key, field, new) changes, already in chapter order, over copies of the docs."""
    docs = {key: dict(doc) for key, doc in initial_docs.items()}
    for key, field, new in changes:
        docs.setdefault(key, {})[field] = new
    return docs
