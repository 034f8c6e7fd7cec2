"""One chapter attempt, the same for the coordinator's writers and a worker's.

The protocol: write the chapter under the lease claimed with its job; make the
draft durable where the caller keeps drafts; commit its delta fenced by the
lease (the commit releases the lease and leaves the attempt's outcome on the
board); or, when the model could not write it, record the failure fenced the
same way. A lease that ran out means another writer took the attempt over:
its outcome is the attempt's, so nothing is recorded here. A cancelled or
crashed attempt gives its lease up if the store still takes writes; if not,
the lease is stale once this process ends and is taken over then.

What differs between callers is data, not steps: a coordinator keeps drafts in
the run folder (``keep``) and journals its own model calls; a worker has no
shared disk, so its outcome carries the draft and the calls (``ship``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agents.errors import AgentFailedError, ModelCallError
from agents.schemas import ChapterDraft, ChapterJob
from agents.writer import ChapterWriter
from orchestrator.board.jobs import JobBoard, Outcome
from orchestrator.board.leases import ChapterLeases
from state import Lease, LeaseLostError

Keep = Callable[[ChapterDraft], Awaitable[None]]
Calls = Callable[[int, int], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Committed:
    """The draft's delta is committed; the attempt is done."""

    draft: ChapterDraft


@dataclass(frozen=True, slots=True)
class Failed:
    """The model could not write the chapter; the failure is recorded on the board."""

    error: str


@dataclass(frozen=True, slots=True)
class Lost:
    """The lease ran out before the commit: another writer owns the attempt now."""

    error: str


@dataclass(frozen=True, slots=True)
class Ship:
    """A worker's outcome carries the draft and the model calls (``calls(chapter, attempt)``)."""

    calls: Calls


async def write_attempt(
    writer: ChapterWriter,
    board: JobBoard,
    leases: ChapterLeases,
    job: ChapterJob,
    lease: Lease,
    *,
    keep: Keep | None = None,
    ship: Ship | None = None,
) -> Committed | Failed | Lost:
    """Write ``job`` under ``lease`` and commit or record its failure (see the module)."""
    number, attempt = job.plan.number, job.attempt
    me = leases.holder.label()

    def outcome(draft: ChapterDraft | None, error: str | None) -> Outcome:
        if ship is None:
            return Outcome(number, attempt, me, error=error)
        return Outcome(number, attempt, me, draft, error, ship.calls(number, attempt))

    try:
        draft = await writer.write(job)
        if keep is not None:
            await keep(draft)
        # Conflicts are the frontier's to judge (in chapter order), not apply's result.
        await board.commit(draft, lease, outcome(draft, None))
    except LeaseLostError as exc:
        return Lost(str(exc))
    except (AgentFailedError, ModelCallError) as exc:
        try:
            await board.fail(lease, outcome(None, str(exc)))
        except LeaseLostError as lost:
            return Lost(str(lost))
        return Failed(str(exc))
    except BaseException:
        # Cancelled (the run is stopping) or a write failed.
        with contextlib.suppress(Exception):
            await leases.release(number)
        raise
    finally:
        leases.committed(number)  # the fenced commit or failure released it in the store
    return Committed(draft)
