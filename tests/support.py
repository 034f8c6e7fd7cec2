"""Builders and an independent oracle shared by the state store tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from state import (
    ChapterRecord,
    CharacterState,
    Event,
    FieldChange,
    Foreshadowing,
    StateDelta,
    StoryState,
)
from state.url import parse_state_url

RUN_ID = "run-1"

# make_store_url(**query_options) -> the URL of a new, empty store
StoreURLFactory = Callable[..., str]

INITIAL = StoryState(
    characters={
        "Mara": CharacterState(name="Mara", role="heir", location="harbour", emotion="calm"),
        "Teo": CharacterState(name="Teo", role="smuggler", location="inn", emotion="wary"),
        "Ilse": CharacterState(name="Ilse", role="archivist", location="library"),
    },
    foreshadowing={"letter": Foreshadowing(id="letter", description="a sealed letter")},
)


def change(key: str, field: str, old: Any, new: Any) -> FieldChange:
    return FieldChange(key=key, field=field, old=old, new=new)


def move(who: str, old: str, new: str) -> FieldChange:
    """A character changes location."""
    return change(f"characters/{who}", "location", old, new)


def feel(who: str, old: str, new: str) -> FieldChange:
    """A character changes emotion."""
    return change(f"characters/{who}", "emotion", old, new)


def delta(
    chapter: int,
    *changes: FieldChange,
    attempt: int = 1,
    author: str = "writer",
    record: ChapterRecord | None = None,
    run_id: str = RUN_ID,
) -> StateDelta:
    return StateDelta(
        run_id=run_id,
        chapter=chapter,
        attempt=attempt,
        author=author,
        changes=list(changes),
        record=record,
    )


def store_path(url: str) -> Path:
    """The file a state URL names."""
    return parse_state_url(url).path


def fold_deltas(initial: StoryState, deltas: Iterable[StateDelta | Event]) -> StoryState:
    """The oracle: apply the deltas' changes in chapter order over the initial state.

    Written here, not taken from ``state.fold``, so the tests check the store
    against an independent reading of the spec. Ties within a chapter keep the
    given order (callers pass one delta per chapter).
    """
    docs: dict[str, dict[str, Any]] = {
        key: dict(doc) for key, doc in json.loads(json.dumps(initial.documents())).items()
    }
    for item in sorted(deltas, key=lambda d: d.chapter):
        for c in item.changes:
            docs.setdefault(c.key, {})[c.field] = c.new
    return StoryState.from_documents(docs)


def without_version(state: StoryState) -> dict[str, Any]:
    """A state without its version, for comparing stories."""
    return state.model_dump(mode="json", exclude={"version"})


def known_bug(request: pytest.FixtureRequest, scheme: str, reason: str) -> None:
    """Mark the running test a strict xfail on the backend ``scheme`` only."""
    if request.getfixturevalue("backend").scheme == scheme:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
