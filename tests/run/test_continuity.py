"""Revisions: what each kept chapter read holds in the state the chapters before it left."""

from __future__ import annotations

from state import StateManager, open_state
from state.models import Event
from tests.run.conftest import RunBook

DRIFT = ("llm.drift=0.6", "llm.seed=1", "project.chapters=8")


async def _kept(manager: StateManager) -> list[Event]:
    return await manager.history(include_superseded=False)


async def _reads_that_fail(manager: StateManager, event: Event) -> list[str]:
    """The fields a kept chapter read or changed whose value before it is not what it saw."""
    before = (await manager.snapshot(as_of_chapter=event.chapter)).documents()
    expected = [(c.key, c.field, c.old) for c in event.changes]
    expected += [(r.key, r.field, r.value) for r in event.reads]
    return [
        f"{key}.{field}: read {value!r}, state {before.get(key, {}).get(field)!r}"
        for key, field, value in expected
        if before.get(key, {}).get(field) != value
    ]


async def test_drift_causes_revisions_and_every_kept_chapter_reads_true(run_book: RunBook) -> None:
    summary, _, events = await run_book(*DRIFT)
    assert summary.revised > 0, "this seed and drift should make at least one revision"
    assert any(name == "chapter_revision" for name, _ in events)
    async with open_state(summary.state_url, create=False) as manager:
        for event in await _kept(manager):
            assert await _reads_that_fail(manager, event) == [], f"chapter {event.chapter}"


async def test_sequential_mode_never_revises(run_book: RunBook) -> None:
    summary, _, events = await run_book(*DRIFT, "orchestrator.mode=sequential")
    assert summary.revisions == 0
    assert summary.findings == [] or all(f.kind != "location" for f in summary.findings)
    started = [fields["chapter"] for name, fields in events if name == "chapter_started"]
    assert started == sorted(started)


async def test_out_of_attempts_contradictions_become_findings(run_book: RunBook) -> None:
    summary, folder, _ = await run_book(*DRIFT, "orchestrator.max_attempts=1")
    assert summary.revisions == 0
    unresolved = [f for f in summary.findings if "but the chapters before it leave" in f.detail]
    assert unresolved, "with drift and no revisions allowed some reads must stay contradicted"
    assert (folder.root / "findings.json").read_text(encoding="utf-8").count("chapters before") >= 1


async def test_the_final_state_is_the_fold_of_the_kept_deltas(run_book: RunBook) -> None:
    summary, _, _ = await run_book(*DRIFT)
    async with open_state(summary.state_url, create=False) as manager:
        latest = await manager.snapshot()
        folded = await manager.snapshot(as_of_chapter=summary.chapters + 1)
        kept = await _kept(manager)
    assert latest.documents() == folded.documents()
    assert sorted(e.chapter for e in kept) == list(range(1, summary.chapters + 1))


async def test_window_mode_starts_chapter_k_after_k_minus_window_is_final(
    run_book: RunBook,
) -> None:
    _, _, events = await run_book(*DRIFT, "orchestrator.mode=window", "orchestrator.window=2")
    final: set[int] = set()
    for name, fields in events:
        if name == "chapter_final":
            final.add(fields["chapter"])
        if name == "chapter_started" and fields["chapter"] > 2:
            assert fields["chapter"] - 2 in final
