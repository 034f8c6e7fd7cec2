"""Revisions: a drifted chapter contradicts what a later one read, and the later one is rewritten.

The offline model with ``llm.drift`` makes chapters stray from their plan; the
seed is the first of ``DRIFT_SEEDS`` that gives a revision (the model is
deterministic for a seed). The state the run leaves must be the fold of the
kept deltas, and every kept chapter must have read the state its predecessors
really left, unless a finding says otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

import state
from tests.e2e.conftest import DRIFT, SMALL, Run, run_in, write_project

Docs = dict[str, dict[str, Any]]
KINDS = ("characters", "foreshadowing", "conflicts")


@dataclass(frozen=True)
class States:
    """``orchestrator state snapshot`` of a run: the latest and as of every chapter."""

    latest: Docs
    as_of: dict[int, Docs]  # 1 .. chapters + 1


def documents(snapshot: dict[str, Any]) -> Docs:
    """A snapshot's JSON as store documents: ``characters/<name>`` -> fields."""
    return {f"{kind}/{ident}": doc for kind in KINDS for ident, doc in snapshot[kind].items()}


def fold(initial: Docs, events: list[dict[str, Any]]) -> Docs:
    """The kept events' changes over the initial documents, in chapter order."""
    docs = {key: dict(doc) for key, doc in initial.items()}
    for event in sorted(events, key=lambda e: e["chapter"]):
        for change in event["changes"]:
            docs.setdefault(change["key"], {})[change["field"]] = change["new"]
    return docs


def assert_same_state(actual: Docs, expected: Docs) -> None:
    assert sorted(actual) == sorted(expected)
    for key, doc in expected.items():
        for field, value in doc.items():
            assert actual[key].get(field) == value, f"{key} {field}"


def kept(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if not event["superseded"]]


@pytest.fixture(scope="module")
def states(drift_run: Run) -> States:
    chapters = drift_run.summary["chapters"]
    as_of = {k: documents(drift_run.snapshot(k)) for k in range(1, chapters + 2)}
    return States(latest=documents(drift_run.snapshot()), as_of=as_of)


@pytest.fixture(scope="module")
def events(drift_run: Run) -> list[dict[str, Any]]:
    return drift_run.history()


def revised_chapters(run: Run) -> list[int]:
    return [n for n, o in run.outcomes().items() if o["attempts"] >= 2]


def test_some_chapter_is_revised(drift_run: Run) -> None:
    assert revised_chapters(drift_run)
    summary = drift_run.summary
    assert summary["revisions"] == sum(o["attempts"] - 1 for o in summary["chapter_outcomes"])
    assert summary["revised"] == sum(o["status"] == "revised" for o in summary["chapter_outcomes"])
    assert summary["written"] == summary["chapters"]
    assert summary["failed"] == []


def test_every_attempt_has_its_draft(drift_run: Run) -> None:
    for number in revised_chapters(drift_run):
        attempts = drift_run.outcomes()[number]["attempts"]
        names = [p.name for p in drift_run.drafts(number)]
        assert names == [f"{number:03d}-{a}.md" for a in range(1, attempts + 1)]


def test_revised_chapter_keeps_its_latest_attempt(drift_run: Run) -> None:
    for number in revised_chapters(drift_run):
        outcome = drift_run.outcomes()[number]
        assert outcome["kept_attempt"] == outcome["attempts"]
        assert outcome["status"] == "revised"
        latest = drift_run.drafts(number)[-1].read_text(encoding="utf-8")
        assert drift_run.chapter_text(number) == latest


def test_superseded_attempts_are_marked_in_history(
    drift_run: Run, events: list[dict[str, Any]]
) -> None:
    for event in events:
        kept_attempt = drift_run.outcomes()[event["chapter"]]["kept_attempt"]
        assert event["superseded"] == (event["attempt"] != kept_attempt), event["idempotency_key"]
    assert any(event["superseded"] for event in events)


def test_revision_is_announced_before_it_starts(drift_run: Run) -> None:
    lines = (drift_run.folder / "logs" / "run.jsonl").read_text(encoding="utf-8").splitlines()
    log = [json.loads(line) for line in lines]
    for number in revised_chapters(drift_run):
        announced = next(
            i
            for i, e in enumerate(log)
            if e["event"] == "chapter_revision" and e["chapter"] == number
        )
        restarted = next(
            i
            for i, e in enumerate(log)
            if e["event"] == "chapter_started" and e["chapter"] == number and e["attempt"] == 2
        )
        assert announced < restarted
        assert log[announced]["reasons"]


def test_final_state_is_the_fold_of_the_kept_deltas(
    states: States, events: list[dict[str, Any]]
) -> None:
    assert_same_state(states.latest, fold(states.as_of[1], kept(events)))


def test_state_after_the_last_chapter_is_the_latest(states: States) -> None:
    assert_same_state(states.as_of[max(states.as_of)], states.latest)


def test_each_chapter_state_is_its_predecessors_fold(
    states: States, events: list[dict[str, Any]]
) -> None:
    for chapter in range(2, max(states.as_of) + 1):
        before = [event for event in kept(events) if event["chapter"] < chapter]
        assert_same_state(states.as_of[chapter], fold(states.as_of[1], before))


def test_kept_deltas_read_the_state_as_of_their_chapter(
    drift_run: Run, states: States, events: list[dict[str, Any]]
) -> None:
    with_findings = {finding["chapter"] for finding in drift_run.read_json("findings.json")}
    checked = 0
    for event in kept(events):
        if event["chapter"] in with_findings:
            continue
        docs = states.as_of[event["chapter"]]
        for change in event["changes"]:
            actual = docs.get(change["key"], {}).get(change["field"])
            assert actual == change["old"], (event["chapter"], change)
        for read in event["reads"]:
            actual = docs.get(read["key"], {}).get(read["field"])
            assert actual == read["value"], (event["chapter"], read)
        checked += 1
    assert checked > 0


def test_superseded_attempt_read_something_now_contradicted(
    drift_run: Run, states: States, events: list[dict[str, Any]]
) -> None:
    for event in events:
        if not event["superseded"]:
            continue
        docs = states.as_of[event["chapter"]]
        expected = [(c["key"], c["field"], c["old"]) for c in event["changes"]]
        expected += [(r["key"], r["field"], r["value"]) for r in event["reads"]]
        stale = [e for e in expected if docs.get(e[0], {}).get(e[1]) != e[2]]
        assert stale, f"attempt {event['idempotency_key']} was revised with nothing stale"


def test_a_revision_is_never_itself_revised(drift_run: Run) -> None:
    # The revision is written against the exact state at the frontier (frontier.py).
    assert all(o["attempts"] <= 2 for o in drift_run.outcomes().values())


@pytest.fixture(scope="module")
def no_retry_run(drift_run: Run, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The drifted run's seed with one attempt per chapter: contradictions stay."""
    base = tmp_path_factory.mktemp("no-retry")
    seed = drift_run.folder.name.removeprefix("s")
    sets = (*SMALL, DRIFT, f"llm.seed={seed}", "orchestrator.max_attempts=1")
    run = run_in(base, write_project(base), *sets)
    assert run.proc.returncode == 0, run.proc.stderr
    return run


def test_without_attempts_left_nothing_is_revised(no_retry_run: Run) -> None:
    summary = no_retry_run.summary
    assert summary["revisions"] == summary["revised"] == 0
    assert summary["written"] == summary["chapters"]


def test_without_attempts_left_contradictions_become_findings(no_retry_run: Run) -> None:
    findings = no_retry_run.read_json("findings.json")
    assert findings == no_retry_run.summary["findings"]
    unresolved = [f for f in findings if " assumes " in f["detail"]]
    assert unresolved
    for finding in unresolved:
        assert finding["detail"].startswith(f"chapter {finding['chapter']} assumes ")


async def test_findings_name_the_chapters_whose_reads_are_stale(no_retry_run: Run) -> None:
    flagged = {f["chapter"] for f in no_retry_run.read_json("findings.json")}
    async with state.open_state(no_retry_run.url, create=False) as manager:
        for event in await manager.history():
            docs = (await manager.snapshot(event.chapter)).documents()
            expected = [(c.key, c.field, c.old) for c in event.changes]
            expected += [(r.key, r.field, r.value) for r in event.reads]
            stale = any(docs.get(key, {}).get(field) != value for key, field, value in expected)
            assert stale == (event.chapter in flagged), event.chapter
