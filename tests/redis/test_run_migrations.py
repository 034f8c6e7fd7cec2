"""Runs moving between SQLite and Redis: online by the thresholds, and by ``state migrate``.

A run on Redis without a namespace of its own gets the run's id: the run
folders here have names no other test uses, and their namespaces on the
shared server are deleted afterwards.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from state.backends.redis_url import PASSWORD_ENV
from tests.chaos.conftest import (
    check_finished_run,
    child_env,
    cli,
    finish,
    history,
    start_resume,
    start_run,
)
from tests.redis.conftest import AOF_ALWAYS, RedisServer
from tests.redis_support import SHARED_REDIS, drop_namespaces, namespace_for

Server = Callable[..., RedisServer]
SECRET = "thresholds-pw"
# Every window of two or more writes is over the lock-wait threshold, and a window closes
# after its eighth write: the store moves after the run's first commits, well before its last.
MIGRATE_EARLY = (
    "state.thresholds.lock_wait_p99_ms=0.001",
    "state.thresholds.window_s=60",
    "state.thresholds.window_ops=8",
    "state.thresholds.window_count=1",
    "state.thresholds.min_ops=2",
    "state.thresholds.action=migrate",
    "project.chapters=6",
    "orchestrator.workers=2",
)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def migrate(run_dir: Path, destination: str) -> dict[str, Any]:
    """``orchestrator state migrate RUN DST --json``: its report."""
    proc = subprocess.run(
        cli("state", "migrate", str(run_dir), destination, "--json"),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def check_book_is_the_store(run_dir: Path, events: list[dict[str, Any]]) -> None:
    """Each chapter of the book is the draft of the attempt the store (``events``) keeps."""
    for event in events:
        if not event["superseded"]:
            number, attempt = event["chapter"], event["attempt"]
            chapter = run_dir / "chapters" / f"{number:03d}.md"
            draft = run_dir / "drafts" / f"{number:03d}-{attempt}.md"
            assert chapter.read_bytes() == draft.read_bytes(), chapter.name


@pytest.fixture
def shared_run_dir(tmp_path: Path) -> Iterator[Path]:
    """A run folder whose name (its Redis namespace) no other test uses; dropped after."""
    run_dir = tmp_path / namespace_for(tmp_path)
    yield run_dir
    drop_namespaces([run_dir.name])


def test_the_thresholds_move_a_sqlite_run_to_redis_in_the_run_namespace(
    redis_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = redis_server(*AOF_ALWAYS, password=SECRET)
    run_dir = tmp_path / "novel"
    target = f"state.thresholds.migrate_to=redis://:{SECRET}@127.0.0.1:{server.port}/0"

    code, err = finish(start_run(run_dir, *MIGRATE_EARLY, target))

    assert code == 0, err
    meta = read_json(run_dir / "run.json")
    assert meta["state_url"].startswith(f"redis://127.0.0.1:{server.port}/0?namespace=novel&")
    assert meta["state_history"][0]["url"].startswith("sqlite://state.db?")  # the run folder's
    summary = read_json(run_dir / "summary.json")
    assert [e["event"] for e in summary["state_events"]][:2] == ["threshold_crossed", "migrated"]
    assert summary["state_url"] == meta["state_url"]
    for path in run_dir.rglob("*"):  # the password opened the store and is written nowhere
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    monkeypatch.setenv(PASSWORD_ENV, SECRET)  # for the checks' own `orchestrator` commands
    events = history(run_dir)
    copied = summary["state_events"][1]["events"]
    assert 0 < copied < len(events), "no commit on one side of the move"
    check_finished_run(run_dir)
    check_book_is_the_store(run_dir, events)


def test_a_killed_run_migrated_to_redis_and_back_resumes_on_each(shared_run_dir: Path) -> None:
    run_dir = shared_run_dir
    # Killed on SQLite after its first chapters, moved to Redis (the run's id as namespace).
    code, _ = finish(start_run(run_dir, ORCHESTRATOR_FAILPOINT="sqlite.before_commit@10"))
    assert code == -signal.SIGKILL
    # A write lock left by a process killed in its commit is free after the lease: 1 s here.
    to_redis = migrate(run_dir, f"{SHARED_REDIS}?lease=1")
    assert to_redis["destination"].startswith(f"{SHARED_REDIS}?namespace={run_dir.name}&")
    assert to_redis["digest"]["events"] > 0
    # Resumed on Redis and killed again there, after commits of its own; moved back.
    code, _ = finish(start_resume(run_dir, ORCHESTRATOR_FAILPOINT="redis.before_commit@8"))
    assert code == -signal.SIGKILL
    on_redis = history(run_dir)
    assert len(on_redis) > to_redis["digest"]["events"]
    back = migrate(run_dir, f"sqlite://{run_dir / 'back.db'}")
    assert back["digest"]["events"] == len(on_redis)

    code, err = finish(start_resume(run_dir))

    assert code == 0, err
    meta = read_json(run_dir / "run.json")
    assert meta["state_url"].startswith("sqlite://back.db?")  # in the folder: relative to it
    assert [h["url"].split(":", 1)[0] for h in meta["state_history"]] == ["sqlite", "redis"]
    # Nothing committed on either store was lost (a later revision may mark one superseded).
    final = history(run_dir)
    assert [(e["seq"], e["idempotency_key"]) for e in final[: len(on_redis)]] == [
        (e["seq"], e["idempotency_key"]) for e in on_redis
    ]
    check_finished_run(run_dir)
    check_book_is_the_store(run_dir, final)
