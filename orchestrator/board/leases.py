"""This process's chapter leases: taken before a chapter is written, renewed while it is.

A writer claims ``chapter-<n>`` with the chapter's job (see
``orchestrator.board.jobs``) before it calls the model. A keeper task
renews every lease the process holds, every third of the lease time, in one
transaction. The commit of the chapter's delta is fenced by its lease and
releases it, as does the record of a failed attempt. A lease held by a live
writer elsewhere is left to it; one left by a dead process is taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

import structlog

from state import Holder, Lease, StateError, StateManager

if TYPE_CHECKING:
    from agents.schemas import ChapterJob
    from orchestrator.board.jobs import Claim, JobBoard

log = structlog.get_logger("orchestrator.leases")

Emit = Callable[..., None]


class ChapterLeases:
    """The chapter leases of one process, and the task that keeps them alive."""

    def __init__(
        self, manager: StateManager, ttl_s: float, emit: Emit, holder: Holder | None = None
    ) -> None:
        self.manager = manager
        self.ttl_s = ttl_s
        self.holder = holder or Holder.this_process()
        self._emit = emit
        self._held: dict[int, Lease] = {}
        self._keeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ChapterLeases:
        self._keeper = asyncio.create_task(self._keep())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper

    async def take(self, board: JobBoard, chapter: int, attempt: int | None) -> Claim:
        """The chapter's job with its lease, if the job is on the board and nobody live
        holds the lease; else who holds it (or nothing: the job is done)."""
        claim = await board.claim(chapter, attempt, self.holder, self.ttl_s)
        self._took(chapter, claim)
        return claim

    async def publish_and_take(
        self, board: JobBoard, jobs: Sequence[ChapterJob], wanted: Sequence[tuple[int, int]]
    ) -> dict[int, Claim]:
        """Publish ``jobs`` and claim the ``wanted`` (chapter, attempt)s, in one transaction."""
        claims = await board.publish(jobs, wanted, self.holder, self.ttl_s)
        for chapter, claim in claims.items():
            self._took(chapter, claim)
        return claims

    def _took(self, chapter: int, claim: Claim) -> None:
        if claim.lease is None:
            return
        if claim.other is not None:
            self._emit(
                "lease_taken_over",
                chapter=chapter,
                previous=claim.other.holder.label(),
                reason=claim.other.stale_reason(),
            )
        self._held[chapter] = claim.lease

    def committed(self, chapter: int) -> None:
        """The fenced commit released the lease in the store."""
        self._held.pop(chapter, None)

    async def release(self, chapter: int) -> None:
        """Give the chapter up (its attempt failed or was cancelled)."""
        lease = self._held.pop(chapter, None)
        if lease is not None:
            await self.manager.release_lease(lease)

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.renew()
            except StateError as exc:  # the next round tries again; the fence guards commits
                log.warning("lease_renew_failed", error=str(exc))

    async def renew(self) -> None:
        """Extend every lease held; report (and forget) the ones lost to another holder."""
        chapters = sorted(self._held)
        if not chapters:
            return
        renewed = await self.manager.renew_leases([self._held[c] for c in chapters], self.ttl_s)
        for chapter, lease in zip(chapters, renewed, strict=True):
            if chapter not in self._held:
                continue  # committed while the renewal ran
            if lease is None:
                self._held.pop(chapter)
                self._emit("lease_lost", chapter=chapter)
            else:
                self._held[chapter] = lease
