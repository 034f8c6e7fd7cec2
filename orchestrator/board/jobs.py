"""The job board: chapter attempts kept in the store, for any writer of the run.

The coordinator publishes every chapter attempt it starts as
``jobs/<chapter>`` (its attempt number), and, when any writer may take it, the
whole ``ChapterJob`` (plan, state read, summaries, revision notes) as
``jobspecs/<chapter>``; a job its own writers take at once is claimed in the
same transaction and needs no spec. A writer takes a job by claiming the
chapter's lease in the same transaction that reads the job, so a job is
written by one writer at a time, whether the writer is a task of the
coordinator or of an ``orchestrator worker`` on another machine. The commit of
the chapter's delta is fenced by that lease, and in the same transaction it
removes the job and leaves ``outcomes/<chapter>-<attempt>``: who wrote it, the
model calls it made, and, from a worker, the draft itself (the coordinator
needs no shared disk). A failed attempt leaves an outcome with its error
instead, under the same fence.

Beside the jobs: ``meta/config`` is the run's config (never a secret) that a
worker builds its writer from, ``meta/writing`` says whether the run still
takes chapters, and ``workers/<token>`` is each joined worker's heartbeat.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.schemas import ChapterDraft, ChapterJob
from state import (
    ApplyResult,
    Holder,
    Lease,
    StateManager,
    Transaction,
    check_fence,
    claim_in,
    lease_key,
)

JOBS = "jobs/"
SPECS = "jobspecs/"
OUTCOMES = "outcomes/"
WORKERS = "workers/"
HEARTBEAT_S = 2.0  # how often a joined worker says it is alive; after three missed it is gone


def chapter_lease_name(chapter: int) -> str:
    """The lease a writer holds while it writes ``chapter``."""
    return f"chapter-{chapter:06d}"


def job_key(chapter: int) -> str:
    return f"{JOBS}{chapter:06d}"


def spec_key(chapter: int) -> str:
    return f"{SPECS}{chapter:06d}"


async def _put_job(tx: Transaction, job: ChapterJob, open_to_all: bool) -> None:
    """``jobs/<n>`` (small: read by every claim and commit) and, for a job any writer may
    take, ``jobspecs/<n>``: the whole ChapterJob, which only another process needs."""
    chapter = job.plan.number
    await tx.put(job_key(chapter), {"attempt": job.attempt, "open": open_to_all})
    if open_to_all:
        await tx.put(spec_key(chapter), {"job": job.model_dump(mode="json")})


def outcome_key(chapter: int, attempt: int) -> str:
    return f"{OUTCOMES}{chapter:06d}-{attempt:03d}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one chapter attempt ended, as its writer left it in the store."""

    chapter: int
    attempt: int
    writer: str  # the holder's label: "pid 123 on host"
    draft: ChapterDraft | None = None  # kept only when a worker wrote it (no shared disk)
    error: str | None = None  # None: committed
    calls: list[dict[str, Any]] = field(default_factory=list)  # the writer's model calls

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_doc(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "attempt": self.attempt,
            "writer": self.writer,
            "error": self.error,
            "draft": None if self.draft is None else self.draft.model_dump(mode="json"),
            "calls": self.calls,
            "at": time.time(),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Outcome:
        draft = doc.get("draft")
        return cls(
            chapter=int(doc["chapter"]),
            attempt=int(doc["attempt"]),
            writer=str(doc["writer"]),
            draft=None if draft is None else ChapterDraft.model_validate(draft),
            error=doc.get("error"),
            calls=list(doc.get("calls") or []),
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """What claiming a job gave: our lease and the job, or who holds it, or nothing."""

    lease: Lease | None  # ours
    job: ChapterJob | None  # the job's spec, when the lease is ours and it was asked for
    other: Lease | None = None  # the live holder (lease None), or the stale lease replaced

    @property
    def gone(self) -> bool:
        """The job is no longer on the board: finished, or withdrawn."""
        return self.lease is None and self.other is None


class JobBoard:
    """The run's jobs, outcomes and joined workers in its state store."""

    def __init__(self, manager: StateManager) -> None:
        self.manager = manager

    # -- the run ----------------------------------------------------------------------

    async def open_run(self, config: dict[str, Any]) -> None:
        """Let workers join: the config they build writers from, and writing open."""
        await self.manager.put_meta("config", config)
        await self.manager.put_meta("writing", {"open": True, "at": time.time()})

    async def close_run(self) -> None:
        """Every chapter is settled: workers may leave."""
        await self.manager.put_meta("writing", {"open": False, "at": time.time()})

    async def writing(self) -> bool | None:
        """Whether the run takes chapters; None before it has opened."""
        doc = await self.manager.meta("writing")
        return None if doc is None else bool(doc.get("open"))

    async def run_config(self) -> dict[str, Any] | None:
        return await self.manager.meta("config")

    # -- jobs -------------------------------------------------------------------------

    async def publish(
        self,
        jobs: Sequence[ChapterJob],
        claims: Sequence[tuple[int, int]] = (),
        holder: Holder | None = None,
        ttl_s: float = 0.0,
    ) -> dict[int, Claim]:
        """Put chapter attempts on the board and claim ``claims`` (chapter, attempt) for
        ``holder``, all in one transaction: the claims by chapter."""
        if not jobs and not claims:
            return {}
        ours = {chapter for chapter, _ in claims}
        async with self.manager.transaction("publish") as tx:
            for job in jobs:
                # A job claimed here at once is this process's to write: no spec for others
                # (if this process dies, a resumed run withdraws it and starts afresh).
                await _put_job(tx, job, open_to_all=job.plan.number not in ours)
            taken = {}
            for chapter, attempt in claims:
                assert holder is not None
                taken[chapter] = await _claim_in(tx, chapter, attempt, holder, ttl_s, False)
            return taken

    async def republish(self, job: ChapterJob) -> bool:
        """Put a job back whose writer died, unless its outcome came in meanwhile."""
        chapter = job.plan.number
        async with self.manager.transaction("publish") as tx:
            if await tx.get(outcome_key(chapter, job.attempt)) is not None:
                return False
            await _put_job(tx, job, open_to_all=True)
            return True

    async def open_jobs(self) -> list[tuple[int, int]]:
        """(chapter, attempt) of every job any writer may take, lowest chapter first."""
        docs = await self.manager.documents(JOBS)
        return sorted(
            (int(key.removeprefix(JOBS)), int(doc["attempt"]))
            for key, doc in docs.items()
            if doc.get("open")
        )

    async def claim(self, chapter: int, attempt: int | None, holder: Holder, ttl_s: float) -> Claim:
        """Take the chapter's job (``attempt``, if given) with its lease, in one transaction."""
        async with self.manager.transaction("claim") as tx:
            return await _claim_in(tx, chapter, attempt, holder, ttl_s, True)

    async def commit(self, draft: ChapterDraft, lease: Lease, outcome: Outcome) -> ApplyResult:
        """Commit the chapter's delta fenced by ``lease``; the job goes, the outcome stays."""
        return await self.manager.apply(draft.delta, lease=lease, also=self._finishing(outcome))

    async def fail(self, lease: Lease, outcome: Outcome) -> None:
        """Record a failed attempt, fenced by its lease (which it releases)."""
        async with self.manager.transaction("fail") as tx:
            await check_fence(tx, lease)
            await self._finishing(outcome)(tx)

    def _finishing(self, outcome: Outcome) -> Callable[[Transaction], Awaitable[None]]:
        async def finish(tx: Transaction) -> None:
            doc = await tx.get(job_key(outcome.chapter))
            if doc is not None and doc["attempt"] == outcome.attempt:
                await tx.delete(job_key(outcome.chapter))
                if doc.get("open"):
                    await tx.delete(spec_key(outcome.chapter))
            await tx.put(outcome_key(outcome.chapter, outcome.attempt), outcome.to_doc())

        return finish

    async def outcomes(self, attempts: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Outcome]:
        """The outcomes there are of these (chapter, attempt)s."""
        found = {}
        for chapter, attempt in attempts:
            doc = await self.manager.document(outcome_key(chapter, attempt))
            if doc is not None:
                found[chapter, attempt] = Outcome.from_doc(doc)
        return found

    async def all_outcomes(self) -> list[Outcome]:
        docs = await self.manager.documents(OUTCOMES)
        return [Outcome.from_doc(doc) for _, doc in sorted(docs.items())]

    async def withdraw_unheld(self) -> list[Lease]:
        """Take every job nobody is writing off the board (a resumed run starts afresh);
        the live leases of the jobs somebody still writes, which stay."""
        async with self.manager.transaction("withdraw") as tx:
            held = []
            now = time.time()
            for key in await tx.scan(JOBS):
                chapter = int(key.removeprefix(JOBS))
                doc = await tx.get(lease_key(chapter_lease_name(chapter)))
                lease = None if doc is None else Lease.from_doc(chapter_lease_name(chapter), doc)
                if lease is not None and not lease.stale(now):
                    held.append(lease)
                else:
                    await tx.delete(key)
                    await tx.delete(spec_key(chapter))
            return held

    # -- joined workers ---------------------------------------------------------------

    async def heartbeat(self, holder: Holder, writers: int) -> None:
        """A worker says it is alive, with how many chapters it writes at once."""
        async with self.manager.transaction("worker") as tx:
            await tx.put(
                f"{WORKERS}{holder.token}",
                {"writer": holder.label(), "writers": writers, "seen_at": time.time()},
            )

    async def leave(self, holder: Holder) -> None:
        async with self.manager.transaction("worker") as tx:
            await tx.delete(f"{WORKERS}{holder.token}")

    async def joined_writers(self, max_age_s: float) -> int:
        """Writers of the workers that have shown a heartbeat in the last ``max_age_s``."""
        now = time.time()
        docs = await self.manager.documents(WORKERS)
        return sum(
            int(doc["writers"]) for doc in docs.values() if now - float(doc["seen_at"]) <= max_age_s
        )


async def _claim_in(
    tx: Transaction,
    chapter: int,
    attempt: int | None,
    holder: Holder,
    ttl_s: float,
    with_spec: bool,
) -> Claim:
    """The claim, in ``tx``; ``with_spec``: the job must be open to all, and comes with it."""
    doc = await tx.get(job_key(chapter))
    if doc is None or (attempt is not None and doc["attempt"] != attempt):
        return Claim(None, None)
    if with_spec and not doc.get("open"):
        return Claim(None, None)  # its publisher writes it (a resumed run withdraws it)
    lease, other = await claim_in(tx, chapter_lease_name(chapter), holder, ttl_s)
    if lease is None:
        return Claim(None, None, other)
    job = None
    if with_spec:
        spec = await tx.get(spec_key(chapter))
        assert spec is not None
        job = ChapterJob.model_validate(spec["job"])
    return Claim(lease, job, other)
