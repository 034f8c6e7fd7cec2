"""Leases: one holder at a time, taken over when expired or when the holder is dead,
and commits fenced by them."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from state import Holder, LeaseLostError, StateManager
from tests.support import delta, move


def holder(token: str, host: str | None = None, pid: int | None = None) -> Holder:
    me = Holder.this_process()
    return Holder(host or me.host, me.pid if pid is None else pid, None, token)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped) on this host."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


async def test_a_live_holder_keeps_its_lease(story: StateManager) -> None:
    first, replaced = await story.claim_lease("chapter-1", holder("a"), ttl_s=60)
    assert first is not None
    assert replaced is None

    refused, current = await story.claim_lease("chapter-1", holder("b"), ttl_s=60)

    assert refused is None
    assert current is not None
    assert current.holder.token == "a"
    assert [lease.name for lease in await story.leases()] == ["chapter-1"]


async def test_claiming_again_renews_and_keeps_the_start(story: StateManager) -> None:
    first, _ = await story.claim_lease("chapter-1", holder("a"), ttl_s=60)
    again, replaced = await story.claim_lease("chapter-1", holder("a"), ttl_s=120)
    assert first is not None
    assert again is not None
    assert replaced is None
    assert again.acquired_at == first.acquired_at
    assert again.expires_at > first.expires_at


async def test_an_expired_lease_is_taken_over(story: StateManager) -> None:
    elsewhere = holder("a", host="another-machine")
    await story.claim_lease("chapter-1", elsewhere, ttl_s=0.05)
    await asyncio.sleep(0.1)

    taken, replaced = await story.claim_lease("chapter-1", holder("b"), ttl_s=60)

    assert taken is not None
    assert taken.holder.token == "b"
    assert replaced is not None
    assert replaced.holder == elsewhere
    assert replaced.stale_reason() is not None
    assert "expired" in replaced.stale_reason()


async def test_a_dead_holders_lease_is_taken_over_before_it_expires(story: StateManager) -> None:
    gone = holder("a", pid=dead_pid())
    await story.claim_lease("chapter-1", gone, ttl_s=3600)

    taken, replaced = await story.claim_lease("chapter-1", holder("b"), ttl_s=60)

    assert taken is not None
    assert replaced is not None
    assert "dead" in (replaced.stale_reason() or "")


async def test_a_lease_on_another_host_is_not_judged_by_local_pids(story: StateManager) -> None:
    remote = holder("a", host=f"not-{socket.gethostname()}", pid=dead_pid())
    await story.claim_lease("chapter-1", remote, ttl_s=3600)
    refused, _ = await story.claim_lease("chapter-1", holder("b"), ttl_s=60)
    assert refused is None


async def test_a_fenced_commit_releases_the_lease(story: StateManager) -> None:
    lease, _ = await story.claim_lease("chapter-1", holder("a"), ttl_s=60)
    assert lease is not None

    result = await story.apply(delta(1, move("Mara", "harbour", "ship")), lease=lease)

    assert result.applied
    assert await story.leases() == []


async def test_a_commit_under_a_lost_lease_is_refused_and_changes_nothing(
    story: StateManager,
) -> None:
    mine, _ = await story.claim_lease("chapter-1", holder("a", host="far"), ttl_s=0.05)
    assert mine is not None
    await asyncio.sleep(0.1)
    await story.claim_lease("chapter-1", holder("b"), ttl_s=60)
    before = await story.snapshot()

    with pytest.raises(LeaseLostError, match="chapter-1"):
        await story.apply(delta(1, move("Mara", "harbour", "ship")), lease=mine)

    assert await story.snapshot() == before
    assert await story.history() == []


async def test_renewal_reports_a_lost_lease(story: StateManager) -> None:
    kept, _ = await story.claim_lease("chapter-1", holder("a"), ttl_s=60)
    lost, _ = await story.claim_lease("chapter-2", holder("a", host="far"), ttl_s=0.05)
    assert kept is not None
    assert lost is not None
    await asyncio.sleep(0.1)
    await story.claim_lease("chapter-2", holder("b"), ttl_s=60)

    renewed = await story.renew_leases([kept, lost], ttl_s=90)

    assert renewed[0] is not None
    assert renewed[0].expires_at > kept.expires_at
    assert renewed[1] is None


async def test_release_only_drops_the_holders_own_lease(story: StateManager) -> None:
    mine, _ = await story.claim_lease("chapter-1", holder("a"), ttl_s=60)
    assert mine is not None
    await story.release_lease(mine)
    theirs, _ = await story.claim_lease("chapter-1", holder("b"), ttl_s=60)
    assert theirs is not None

    await story.release_lease(mine)  # no longer mine: nothing happens

    assert [lease.holder.token for lease in await story.leases()] == ["b"]
