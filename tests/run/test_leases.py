"""Chapter leases in a run: a chapter held by a live writer elsewhere is waited for and
taken over when its lease runs out; a finished run holds no lease."""

from __future__ import annotations

from pathlib import Path

from orchestrator.board.jobs import chapter_lease_name
from state import Holder, open_state
from tests.run.conftest import RunBook


async def test_a_chapter_leased_elsewhere_is_taken_over_when_the_lease_expires(
    run_book: RunBook, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path / 'shared.db'}"
    elsewhere = Holder("another-machine", 4242, None, "their-token")
    async with open_state(url) as store:
        taken, _ = await store.claim_lease(chapter_lease_name(2), elsewhere, ttl_s=1.0)
        assert taken is not None

    summary, _, events = await run_book(f"state.url={url}")

    assert summary.failed == []
    waits = [fields for name, fields in events if name == "lease_wait"]
    takeovers = [fields for name, fields in events if name == "lease_taken_over"]
    assert [w["chapter"] for w in waits] == [2]
    assert waits[0]["holder"] == "pid 4242 on another-machine"
    assert [t["chapter"] for t in takeovers] == [2]
    assert "expired" in takeovers[0]["reason"]
    async with open_state(url) as store:
        assert await store.leases() == []


async def test_a_finished_run_leaves_no_lease(run_book: RunBook) -> None:
    summary, folder, events = await run_book()

    assert summary.failed == []
    assert not any(name == "lease_taken_over" for name, _ in events)
    async with open_state(f"sqlite://{folder.state_path}") as store:
        assert await store.leases() == []
