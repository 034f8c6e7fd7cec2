"""Which chapter attempt starts next, under the scheduling mode.

- ``parallel``: any chapter may start; lower chapters first.
- ``window N``: chapter k starts only when chapter k - N is final.
- ``sequential``: ``window 1``; every chapter reads the exact state before it.

Revisions go back in the same queue; being low-numbered (they are at the
continuity frontier) they start before new chapters further on.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Literal

from agents.schemas import ChapterDraft
from state.models import Conflicting

Mode = Literal["parallel", "sequential", "window"]
SlotStatus = Literal["queued", "writing", "committed", "final", "failed"]


@dataclass
class ChapterSlot:
    """The coordinator's record of one chapter."""

    number: int
    status: SlotStatus = "queued"
    tries: int = 0  # attempts started
    base: int = 0  # attempts before this session: a sync counts its attempts from there
    kept: ChapterDraft | None = None  # the committed attempt that counts
    notes: list[str] = field(default_factory=list)  # why the next attempt is a revision
    exhausted: bool = False  # a revision failed: keep what there is
    unresolved: list[Conflicting] = field(default_factory=list)
    error: str | None = None


class Schedule:
    """The queue of chapter attempts waiting for a writer."""

    def __init__(self, chapters: int, mode: Mode, window: int | None, workers: int) -> None:
        self.slots = {n: ChapterSlot(n) for n in range(1, chapters + 1)}
        self.workers = workers
        self._window = {"parallel": None, "sequential": 1, "window": window}[mode]
        self._ready = list(self.slots)
        heapq.heapify(self._ready)

    def limit(self, frontier: int) -> int:
        """The highest chapter that may start while ``frontier`` is the first not final."""
        if self._window is None:
            return len(self.slots)
        return frontier - 1 + self._window

    def queue(self, number: int) -> None:
        """Put a chapter (back) in the queue."""
        self.slots[number].status = "queued"
        heapq.heappush(self._ready, number)

    def restore(
        self, number: int, tries: int, kept: ChapterDraft | None, fresh: bool = False
    ) -> None:
        """What a run that died had done for ``number``: attempts started, the kept one.
        ``fresh``: those attempts do not count against ``max_attempts`` (a sync's revisions)."""
        slot = self.slots[number]
        slot.tries = tries
        slot.base = tries if fresh else 0
        if kept is not None:
            slot.kept, slot.status = kept, "committed"
            self._ready = [n for n in self._ready if n != number]
            heapq.heapify(self._ready)

    def take(self, frontier: int, running: int, most: int | None = None) -> list[int]:
        """The chapters to start now, given ``running`` attempts already in flight
        (and at most ``most`` of them, when the spending limit says so)."""
        limit = self.limit(frontier)
        room = self.workers - running if most is None else min(most, self.workers - running)
        started: list[int] = []
        while self._ready and len(started) < room:
            if self._ready[0] > limit:
                break
            started.append(heapq.heappop(self._ready))
        return started

    def drain(self) -> list[int]:
        """Every chapter still waiting to start, taken off the queue (in order)."""
        waiting = sorted(set(self._ready))
        self._ready.clear()
        return waiting
