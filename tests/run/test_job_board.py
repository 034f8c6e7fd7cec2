"""The job board on a real SQLite store: one writer per job, fenced outcomes, withdrawals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.schemas import ChapterDraft, ChapterJob, ChapterPlan
from orchestrator.board.jobs import JobBoard, Outcome, job_key, spec_key
from state import Holder, LeaseLostError, StateDelta, StateManager, StoryState, open_state

ME = Holder("here", 1, None, "mine")
THEM = Holder("there", 2, None, "theirs")


def job(chapter: int, attempt: int = 1) -> ChapterJob:
    plan = ChapterPlan(
        number=chapter, title=f"Chapter {chapter}", pov="Mara", setting="the quay", beats=["x"]
    )
    return ChapterJob(plan=plan, state=StoryState(), attempt=attempt, run_id="r")


def draft(chapter: int, attempt: int = 1) -> ChapterDraft:
    delta = StateDelta(run_id="r", chapter=chapter, attempt=attempt, author="test")
    return ChapterDraft(
        chapter=chapter,
        attempt=attempt,
        title="T",
        text="Some words.",
        summary="S",
        word_count=2,
        delta=delta,
        prompt_tokens=1,
    )


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[JobBoard]:
    async with open_state(f"sqlite://{tmp_path / 'state.db'}") as store:
        await store.initialize(StoryState())
        yield JobBoard(store)


def manager(board: JobBoard) -> StateManager:
    return board.manager


async def test_a_job_is_claimed_by_one_writer_at_a_time(board: JobBoard) -> None:
    await board.publish([job(1), job(2)])
    assert await board.open_jobs() == [(1, 1), (2, 1)]
    mine = await board.claim(1, 1, ME, ttl_s=60)
    assert mine.lease is not None
    assert mine.job == job(1)
    theirs = await board.claim(1, 1, THEM, ttl_s=60)
    assert theirs.lease is None
    assert theirs.other is not None
    assert theirs.other.holder == ME
    # Another attempt number than the board's is not claimed at all.
    assert (await board.claim(2, 2, THEM, ttl_s=60)).gone


async def test_a_commit_takes_the_job_off_and_leaves_its_outcome(board: JobBoard) -> None:
    await board.publish([job(3)])
    claim = await board.claim(3, 1, ME, ttl_s=60)
    assert claim.lease is not None
    result = await board.commit(draft(3), claim.lease, Outcome(3, 1, "me", draft(3)))
    assert result.applied
    assert await board.open_jobs() == []
    assert await manager(board).leases() == []
    found = await board.outcomes([(3, 1), (3, 2)])
    assert list(found) == [(3, 1)]
    assert found[3, 1].ok
    assert found[3, 1].draft == draft(3)
    # Now done, the job cannot be claimed again: nobody writes it twice.
    assert (await board.claim(3, 1, THEM, ttl_s=60)).gone


async def test_a_writer_whose_lease_was_taken_over_commits_nothing(board: JobBoard) -> None:
    await board.publish([job(4)])
    first = await board.claim(4, 1, ME, ttl_s=0.01)
    assert first.lease is not None
    await asyncio.sleep(0.02)  # the lease runs out
    second = await board.claim(4, 1, THEM, ttl_s=60)
    assert second.lease is not None
    assert second.other == first.lease
    with pytest.raises(LeaseLostError):
        await board.commit(draft(4), first.lease, Outcome(4, 1, "me", draft(4)))
    with pytest.raises(LeaseLostError):
        await board.fail(first.lease, Outcome(4, 1, "me", error="boom"))
    assert await board.outcomes([(4, 1)]) == {}
    await board.fail(second.lease, Outcome(4, 1, "them", error="model refused"))
    failed = (await board.outcomes([(4, 1)]))[4, 1]
    assert failed.error == "model refused"
    assert failed.writer == "them"
    assert await manager(board).history() == []


async def test_a_resumed_run_withdraws_only_the_jobs_nobody_holds(board: JobBoard) -> None:
    await board.publish([job(5), job(6), job(7)])
    held = await board.claim(5, 1, THEM, ttl_s=60)
    await board.claim(6, 1, THEM, ttl_s=0.01)
    await asyncio.sleep(0.02)
    leases = await board.withdraw_unheld()
    assert [lease.name for lease in leases] == ["chapter-000005"]
    assert held.lease is not None
    assert leases[0].holder == held.lease.holder
    assert await board.open_jobs() == [(5, 1)]
    assert await manager(board).document(job_key(7)) is None
    assert await manager(board).document(spec_key(7)) is None


async def test_a_job_put_back_after_its_outcome_came_in_stays_off(board: JobBoard) -> None:
    await board.publish([job(8)])
    claim = await board.claim(8, 1, ME, ttl_s=60)
    assert claim.lease is not None
    await board.commit(draft(8), claim.lease, Outcome(8, 1, "me"))
    assert not await board.republish(job(8))
    assert await board.open_jobs() == []


async def test_a_job_claimed_by_its_publisher_is_not_open_to_others(board: JobBoard) -> None:
    claims = await board.publish([job(9), job(10)], [(9, 1)], ME, ttl_s=60)
    assert claims[9].lease is not None
    assert claims[9].job is None  # its publisher has the job already
    assert await manager(board).document(spec_key(9)) is None
    assert await board.open_jobs() == [(10, 1)]
    assert (await board.claim(9, 1, THEM, ttl_s=60)).gone
    assert (await board.claim(10, 1, THEM, ttl_s=60)).job == job(10)
    await board.commit(draft(9), claims[9].lease, Outcome(9, 1, "me"))
    assert await manager(board).document(job_key(9)) is None


async def test_joined_writers_count_only_recent_heartbeats(board: JobBoard) -> None:
    await board.heartbeat(ME, writers=3)
    await board.heartbeat(THEM, writers=2)
    assert await board.joined_writers(max_age_s=60) == 5
    await board.leave(THEM)
    assert await board.joined_writers(max_age_s=60) == 3
    await asyncio.sleep(0.02)
    assert await board.joined_writers(max_age_s=0.01) == 0
