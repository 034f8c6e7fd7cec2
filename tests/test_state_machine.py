"""The store against a model: random deltas, retries, snapshots and reopens.

The model keeps every delta that was not a duplicate; per chapter the kept one
is the highest attempt, and the story is the fold of the kept deltas in chapter
order over the initial state. After every step the latest snapshot must equal
the model, and so must the fold of the non-superseded history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import state
from state import ApplyResult, FieldChange, StateDelta, StoryState
from tests.support import INITIAL, RUN_ID, StoreURLFactory, fold_deltas, without_version

T = TypeVar("T")

CHAPTERS = st.integers(min_value=1, max_value=6)
ATTEMPTS = st.integers(min_value=1, max_value=3)
CHARACTER_EDITS = st.tuples(
    st.sampled_from(["characters/Mara", "characters/Teo", "characters/Ilse"]),
    st.sampled_from(["location", "emotion"]),
    st.sampled_from(["harbour", "ship", "reef", "calm", "grim"]),
)
THREAD_EDITS = st.tuples(
    st.sampled_from(["foreshadowing/bell", "foreshadowing/mirror"]),
    st.just("status"),
    st.sampled_from(["planted", "paid_off"]),
)
EDITS = st.lists(
    st.one_of(CHARACTER_EDITS, CHARACTER_EDITS, CHARACTER_EDITS, THREAD_EDITS),
    min_size=1,
    max_size=3,
)

Field = tuple[str, str]


def last_per_field(d: StateDelta) -> dict[Field, FieldChange]:
    return {(c.key, c.field): c for c in d.changes}


class StoreModel(RuleBasedStateMachine):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.manager = self.run(state.connect(url))
        assert self.run(self.manager.initialize(INITIAL))
        # (chapter, attempt) -> (delta, result of its first apply), duplicates left out
        self.applied: dict[tuple[int, int], tuple[StateDelta, ApplyResult]] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.run(self.manager.close())
        finally:
            self.loop.close()

    # -- the model ----------------------------------------------------------------

    def kept(self) -> dict[int, tuple[StateDelta, ApplyResult]]:
        best: dict[int, tuple[StateDelta, ApplyResult]] = {}
        for (chapter, attempt), entry in sorted(self.applied.items()):
            if chapter not in best or attempt > best[chapter][0].attempt:
                best[chapter] = entry
        return best

    def expected(self, before_chapter: int | None = None) -> StoryState:
        deltas = [
            d for c, (d, _) in self.kept().items() if before_chapter is None or c < before_chapter
        ]
        return fold_deltas(INITIAL, deltas)

    def value_before(self, key: str, field: str, chapter: int) -> Any:
        docs = self.expected(chapter).documents()
        return docs.get(key, {}).get(field)

    def expected_invalidated(self, chapter: int, touched: set[Field]) -> list[int]:
        stale = set()
        kept = self.kept()
        for key, field in touched:
            later = [
                c for c, (d, _) in kept.items() if c > chapter and (key, field) in last_per_field(d)
            ]
            if later:
                first = min(later)
                recorded = last_per_field(kept[first][0])[(key, field)].old
                if self.value_before(key, field, first) != recorded:
                    stale.add(first)
        return sorted(stale)

    # -- rules ----------------------------------------------------------------------

    @rule(chapter=CHAPTERS, attempt=ATTEMPTS, edits=EDITS, stale=st.booleans())
    def apply_a_delta(
        self, chapter: int, attempt: int, edits: list[tuple[str, str, str]], stale: bool
    ) -> None:
        changes = [
            FieldChange(key=k, field=f, old=self.value_before(k, f, chapter), new=new)
            for k, f, new in edits
        ]
        if stale:
            changes[0] = changes[0].model_copy(update={"old": "a stale read"})
        d = StateDelta(run_id=RUN_ID, chapter=chapter, attempt=attempt, changes=changes)
        result = self.run(self.manager.apply(d))

        if (chapter, attempt) in self.applied:
            assert result.duplicate
            assert not result.applied
            return
        assert result.applied
        assert not result.duplicate
        assert result.seq == max((r.seq for _, r in self.applied.values()), default=0) + 1

        previous = self.kept().get(chapter)
        if previous is not None and previous[0].attempt > attempt:
            # A higher attempt of this chapter already counts: history only.
            assert result.conflicts == []
            assert result.invalidated_chapters == []
            self.applied[(chapter, attempt)] = (d, result)
            return
        expected_conflicts = {
            (k, f, c.old, self.value_before(k, f, chapter))
            for (k, f), c in last_per_field(d).items()
            if c.old != self.value_before(k, f, chapter)
        }
        found = {(c.key, c.field, c.expected, c.actual) for c in result.conflicts}
        assert found == expected_conflicts
        touched = set(last_per_field(d))
        if previous is not None:
            touched |= set(last_per_field(previous[0]))
        self.applied[(chapter, attempt)] = (d, result)
        assert result.invalidated_chapters == self.expected_invalidated(chapter, touched)

    @precondition(lambda self: bool(self.applied))
    @rule(data=st.data())
    def reapply_an_earlier_delta(self, data: st.DataObject) -> None:
        d, first = data.draw(st.sampled_from(sorted(self.applied.values(), key=lambda e: e[1].seq)))
        again = self.run(self.manager.apply(d))
        assert again.duplicate
        assert not again.applied
        assert again.model_copy(update={"applied": True, "duplicate": False}) == first

    @rule(k=st.integers(min_value=1, max_value=7))
    def snapshot_as_of_a_chapter(self, k: int) -> None:
        snap = self.run(self.manager.snapshot(as_of_chapter=k))
        assert without_version(snap) == without_version(self.expected(k))
        seqs = [r.seq for c, (_, r) in self.kept().items() if c < k]
        assert snap.version == max(seqs, default=0)

    @rule()
    def close_and_reopen(self) -> None:
        self.run(self.manager.close())
        self.manager = self.run(state.connect(self.url))
        assert self.run(self.manager.is_initialized())

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def latest_snapshot_is_the_model(self) -> None:
        latest = self.run(self.manager.snapshot())
        assert without_version(latest) == without_version(self.expected())
        assert latest.version == max((r.seq for _, r in self.applied.values()), default=0)

    @invariant()
    def kept_history_folds_to_the_latest_snapshot(self) -> None:
        everything = self.run(self.manager.history())
        assert len(everything) == len(self.applied)
        kept = self.run(self.manager.history(include_superseded=False))
        assert sorted(e.seq for e in kept) == sorted(r.seq for _, r in self.kept().values())
        latest = self.run(self.manager.snapshot())
        assert without_version(fold_deltas(INITIAL, kept)) == without_version(latest)


def test_the_store_behaves_like_the_model(make_store_url: StoreURLFactory) -> None:
    run_state_machine_as_test(
        # Hypothesis calls this factory once per example: each example gets a fresh store.
        lambda: StoreModel(make_store_url()),  # type: ignore[arg-type]
        settings=settings(max_examples=15, stateful_step_count=15, deadline=None, database=None),
    )
