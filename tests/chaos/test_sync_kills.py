"""kill -9 ``orchestrator sync`` at random moments and at named steps, then run it again:
it converges to the book an uninterrupted sync makes, and applies no delta twice."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.conftest import EXAMPLE, SEED, child_env, cli, finish, history

# Slow model calls, so that kills land inside the sync; no drift: two runs of the
# same project in folders of the same name write the same book.
BOOK = ["project.chapters=10", "project.target_words=200", "orchestrator.html_report=false"]
BOOK += ["llm.latency_ms=100", "llm.drift=0"]
EDIT = "\nMara Quell died on the quay.\n"
KILLS = 5


def _book(base: Path) -> Path:
    run_dir = base / "run"
    args = ["run", str(EXAMPLE), "--run-dir", str(run_dir), "--quiet"]
    for override in BOOK:
        args += ["--set", override]
    subprocess.run(cli(*args), env=child_env(), check=True, capture_output=True)
    with (run_dir / "chapters" / "002.md").open("a", encoding="utf-8") as chapter:
        chapter.write(EDIT)
    return run_dir


def _sync(run_dir: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cli("sync", str(run_dir), "--json"),
        env=child_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _chapters(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / "chapters").glob("*.md"))}


def _kept(run_dir: Path) -> dict[int, dict[str, Any]]:
    return {e["chapter"]: e for e in history(run_dir) if not e["superseded"]}


def _check_converged(run_dir: Path, reference: Path) -> None:
    """The killed sync's book is the uninterrupted one's: the same chapters kept from the
    same authors, the edit kept, every chapter byte-identical as long as the kept attempts
    up to it have the same numbers; one delta per idempotency key, verified, and nothing
    left to sync. (A kill between a revision's draft and its commit burns that attempt's
    number; the offline model writes attempt 3 in other words than attempt 2, and the
    chapters after it read its summary. Those chapters must still say the same facts.)"""
    events = history(run_dir)
    keys = Counter(e["idempotency_key"] for e in events)
    assert max(keys.values()) == 1, f"applied twice: {keys.most_common(3)}"
    mine, theirs = _kept(run_dir), _kept(reference)
    assert sorted(mine) == sorted(theirs)
    assert {n: e["author"] for n, e in mine.items()} == {n: e["author"] for n, e in theirs.items()}
    revised = {n for n, e in mine.items() if e["attempt"] > 1 and e["author"] != "human"}
    assert revised == {n for n, e in theirs.items() if e["attempt"] > 1 and e["author"] != "human"}
    ours, reference_files = _chapters(run_dir), _chapters(reference)
    same = True
    for n, event in sorted(mine.items()):
        name = f"{n:03d}.md"
        same = same and event["attempt"] == theirs[n]["attempt"]
        if same:
            assert ours[name] == reference_files[name], name
        else:
            assert [(c["key"], c["field"], c["new"]) for c in event["changes"]] == [
                (c["key"], c["field"], c["new"]) for c in theirs[n]["changes"]
            ], name
    assert ours["002.md"].endswith(EDIT.encode("utf-8"))
    verified = subprocess.run(cli("verify", str(run_dir)), env=child_env(), capture_output=True)
    assert verified.returncode == 0, verified.stdout
    again = subprocess.run(
        cli("sync", str(run_dir), "--json"), env=child_env(), capture_output=True, check=True
    )
    assert json.loads(again.stdout)["done"] is False


@dataclass(frozen=True)
class Reference:
    """The book an uninterrupted sync makes, and how long that sync took."""

    run_dir: Path
    seconds: float


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """Read, never written, by the tests."""
    run_dir = _book(tmp_path_factory.mktemp("reference"))
    started = time.perf_counter()
    code, err = finish(_sync(run_dir))
    assert code == 0, err
    assert _kept(run_dir)[2]["author"] == "human"
    return Reference(run_dir, time.perf_counter() - started)


def test_random_kills_then_sync_again_converge(tmp_path: Path, reference: Reference) -> None:
    rng = random.Random(SEED)
    run_dir = _book(tmp_path / "killed")
    assert _chapters(run_dir) != _chapters(reference.run_dir)  # not synced yet
    kills = 0
    child = _sync(run_dir)
    while kills < KILLS:
        try:
            # Somewhere in a whole sync's time: start-up, planning, commits, revisions.
            child.wait(timeout=rng.uniform(0.1, 0.5) * reference.seconds)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            finish(child)
            kills += 1
            child = _sync(run_dir)
            continue
        break
    code, err = finish(child, timeout=120)
    assert code == 0, err
    assert kills >= 2, f"the sync finished before enough kills (seed {SEED}, {reference})"
    _check_converged(run_dir, reference.run_dir)


# A kill at the N-th write of a kind: a draft's atomic replace, a SQLite commit.
FAILPOINTS = ["atomic.before_replace@1", "sqlite.before_commit@2", "sqlite.before_commit@6"]


@pytest.mark.parametrize("point", FAILPOINTS)
def test_a_kill_at_a_named_step_then_sync_again_converges(
    tmp_path: Path, reference: Reference, point: str
) -> None:
    run_dir = _book(tmp_path / "killed")
    code, _ = finish(_sync(run_dir, ORCHESTRATOR_FAILPOINT=point))
    assert code == -signal.SIGKILL, f"{point} was not reached"
    code, err = finish(_sync(run_dir))
    assert code == 0, err
    _check_converged(run_dir, reference.run_dir)
