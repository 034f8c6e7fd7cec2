"""Arc summaries a model writes once per finished stretch of chapters, kept in the store.

When every chapter of a stretch (``arc_size`` chapters: 1-10, 11-20, ...) is
final, the summarizer agent writes that stretch's arc in the background, and
the arc is kept in the store (``meta/arcs``) with the attempts it was written
from. Jobs started after that give it to their writers; a resumed run reads
it back instead of asking again, and an arc whose chapters changed since
(a revision, an author's edit) is written anew. An arc the model fails to
write is left to the extractive summary (a warning in the log).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from agents.arcs import ArcWriter
from agents.errors import AgentFailedError, ModelCallError
from agents.schemas import ChapterDraft
from orchestrator.run.schedule import Schedule
from state import StateManager

log = structlog.get_logger("orchestrator.run.arcs")

ARCS_META = "arcs"


class ArcKeeper:
    """The model-written arcs of one run, by the first chapter of their stretch."""

    def __init__(
        self,
        writer: ArcWriter,
        manager: StateManager,
        size: int,
        max_tokens: int,
        emit: Callable[..., None],
    ) -> None:
        self.writer = writer
        self.manager = manager
        self.size = max(1, size)
        self.max_tokens = max_tokens
        self.emit = emit
        self._kept: dict[str, dict[str, Any]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """The arcs an earlier process of the run wrote."""
        stored = await self.manager.meta(ARCS_META)
        if isinstance(stored, dict):
            self._kept = {k: v for k, v in stored.items() if isinstance(v, dict)}

    def known(self, schedule: Schedule) -> dict[int, str]:
        """Arcs written from the attempts the schedule keeps now (first chapter -> text)."""
        arcs = {}
        for key, entry in self._kept.items():
            drafts = _kept(schedule, *_span(key))
            if drafts and entry.get("attempts") == {str(d.chapter): d.attempt for d in drafts}:
                arcs[_span(key)[0]] = str(entry["text"])
        return arcs

    def note(self, schedule: Schedule, final_through: int) -> None:
        """Start writing every stretch that is final through ``final_through`` and has no
        arc from its current attempts (at most one task per stretch at a time)."""
        for first in range(1, final_through - self.size + 2, self.size):
            last = first + self.size - 1
            key = f"{first}-{last}"
            drafts = _kept(schedule, first, last)
            if drafts is None or key in self._tasks:
                continue
            attempts = {str(d.chapter): d.attempt for d in drafts}
            if self._kept.get(key, {}).get("attempts") == attempts:
                continue
            summaries = {d.chapter: d.summary for d in drafts}
            self._tasks[key] = asyncio.create_task(self._write(key, summaries, attempts))

    async def settle(self) -> None:
        """Wait for the arcs being written (a failed one is logged and left out)."""
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _write(self, key: str, summaries: dict[int, str], attempts: dict[str, int]) -> None:
        first, last = _span(key)
        try:
            text = await self.writer.summarize(first, last, summaries, self.max_tokens)
        except (AgentFailedError, ModelCallError) as exc:
            log.warning("arc_not_written", first=first, last=last, error=str(exc))
            return
        finally:
            self._tasks.pop(key, None)
        async with self._lock:
            self._kept[key] = {"text": text, "attempts": attempts}
            await self.manager.put_meta(ARCS_META, self._kept)
        self.emit("arc_written", first=first, last=last)


def _span(key: str) -> tuple[int, int]:
    first, _, last = key.partition("-")
    return int(first), int(last)


def _kept(schedule: Schedule, first: int, last: int) -> list[ChapterDraft] | None:
    """The kept attempt of each chapter ``first``..``last`` (None unless all are kept)."""
    kept = []
    for number in range(first, last + 1):
        slot = schedule.slots.get(number)
        if slot is None or slot.kept is None:
            return None
        kept.append(slot.kept)
    return kept
