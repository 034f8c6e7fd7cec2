"""The read-modify-write view a transaction gets.

Writes are buffered in the transaction and become part of its group's commit
only when the transaction's body finishes without an exception, so a failing
transaction leaves nothing behind, whatever else its group commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from state.backend import StoredEvent, WriteSession
from state.jsontypes import JSON


def encode(value: JSON) -> str:
    """Canonical compact JSON text (sorted keys) for storage and digests.

    Raises ValueError for text that cannot be stored as UTF-8 (a lone surrogate),
    so the transaction that tried fails, not the group commit it would join.
    """
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if text.isascii():  # the common case, checked without a copy
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not storable as UTF-8: {exc.reason}") from None
    return text


@dataclass
class GroupBuffer:
    """What the transactions of one group commit have written so far."""

    session: WriteSession
    next_seq: int | None = None  # looked up on the first event: most transactions append none
    writes: dict[str, str | None] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)


class Transaction:
    """``get``/``put``/``delete``/``scan``/``append_event``, all or nothing."""

    def __init__(self, group: GroupBuffer) -> None:
        self._group = group
        self._writes: dict[str, str | None] = {}
        self._events: list[StoredEvent] = []
        self._closed = False
        self.outcome: Literal["commit", "duplicate"] = "commit"

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this transaction has ended; open a new one")

    async def _raw(self, key: str) -> str | None:
        if key in self._writes:
            return self._writes[key]
        if key in self._group.writes:
            return self._group.writes[key]
        return await self._group.session.read(key)

    async def get(self, key: str, default: JSON = None) -> JSON:
        """The document under ``key`` (a fresh copy), or ``default``."""
        self._check_open()
        raw = await self._raw(key)
        return default if raw is None else json.loads(raw)

    async def put(self, key: str, value: JSON) -> None:
        """Set ``key`` to ``value`` (anything the json module can encode)."""
        self._check_open()
        try:
            self._writes[key] = encode(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"value for {key!r} is not JSON-serialisable: {exc}") from None

    async def delete(self, key: str) -> None:
        self._check_open()
        self._writes[key] = None

    async def scan(self, prefix: str) -> dict[str, Any]:
        """Every document whose key starts with ``prefix``, in key order."""
        self._check_open()
        merged: dict[str, str | None] = dict(await self._group.session.scan(prefix))
        for layer in (self._group.writes, self._writes):
            merged.update((k, v) for k, v in layer.items() if k.startswith(prefix))
        return {k: json.loads(v) for k, v in sorted(merged.items()) if v is not None}

    async def append_event(self, body: dict[str, Any], chapter: int = 0) -> int:
        """Append an event; returns the sequence number it will have once committed."""
        self._check_open()
        if self._group.next_seq is None:
            self._group.next_seq = await self._group.session.last_seq() + 1
        seq = self._group.next_seq + len(self._events)
        try:
            encoded = encode({**body, "seq": seq, "chapter": chapter})
        except (TypeError, ValueError) as exc:
            raise TypeError(f"event is not JSON-serialisable: {exc}") from None
        self._events.append(StoredEvent(seq=seq, chapter=chapter, body=encoded))
        return seq

    def _merge_into_group(self) -> None:
        self._group.writes.update(self._writes)
        self._group.events.extend(self._events)
        if self._events:
            assert self._group.next_seq is not None
            self._group.next_seq += len(self._events)
        self._closed = True

    def _discard(self) -> None:
        self._writes.clear()
        self._events.clear()
        self._closed = True
