"""kill -9 a store writer mid-write: the store is the old or the new version, never torn;
every acknowledged commit is there; the dead writer's lock is free at once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from state import open_state
from state.atomic import stale_temp_files
from tests.chaos.conftest import SEED, child_env

COMMITS = 40


def start_writer(url: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.chaos.store_writer", url, str(COMMITS)],
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acknowledged(
    child: subprocess.Popen[str], before: int = 0, timeout: float = 30
) -> tuple[int, int]:
    """(exit code, the last commit acknowledged: the child's last line, else ``before``)."""
    out, _ = child.communicate(timeout=timeout)
    lines = out.split()
    return child.returncode, int(lines[-1]) if lines else before


async def check_store(url: str, acked: int, *, in_flight_may_land: bool) -> None:
    """The oracle, on a store a writer was killed in."""
    # A short lock timeout: the dead writer's lock must already be free.
    async with open_state(f"{url}?lock_timeout=2") as store:
        if store.backend.scheme == "sqlite":
            health = {c.name: c for c in await store.backend.health()}
            assert health["sqlite.integrity"].ok, health["sqlite.integrity"].detail
        counter = await store.meta("counter")
        n = 0 if counter is None else counter["n"]
        allowed = {acked, acked + 1} if in_flight_may_land else {acked}
        assert n in allowed, f"counter {n}, acknowledged {acked}"
        events = [json.loads(e.body)["n"] async for e in store.backend.events()]
        assert events == list(range(1, n + 1)), "the event log and the documents disagree"
        async with store.transaction("after") as tx:  # the store takes writes again
            await tx.put("meta/after", {"n": n})
    async with open_state(url, create=False) as store:
        assert await store.meta("after") == {"n": n}


JSON_POINTS = [
    "atomic.after_temp_write@7",
    "atomic.before_fsync@12",
    "atomic.before_replace@18",
    "json.before_dir_fsync@25",
]


@pytest.mark.parametrize("point", JSON_POINTS)
async def test_a_json_writer_killed_at_a_named_step(tmp_path: Path, point: str) -> None:
    url = f"json://{tmp_path / 'state.json'}"
    code, acked = acknowledged(start_writer(url, ORCHESTRATOR_FAILPOINT=point))

    assert code == -signal.SIGKILL, f"{point} was never reached"
    # Killed before its rename, the commit is lost (unacknowledged); after it, it may be there.
    await check_store(url, acked, in_flight_may_land=point.startswith("json."))
    assert len(stale_temp_files(tmp_path)) <= 1  # at most the dead writer's own temp file


@pytest.mark.parametrize("backend", ["json", "sqlite"])
async def test_writers_killed_at_random_moments(tmp_path: Path, backend: str) -> None:
    rng = random.Random(f"{SEED}-{backend}")
    name = "state.json" if backend == "json" else "state.db"
    url = f"{backend}://{tmp_path / name}"
    acked = 0
    for _ in range(4):
        child = start_writer(url)
        try:
            child.wait(timeout=rng.uniform(0.3, 0.8))
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
        _, acked = acknowledged(child, before=acked)
        await check_store(url, acked, in_flight_may_land=True)
        async with open_state(url) as store:  # the next writer goes on from what is there
            counter = await store.meta("counter")
            acked = 0 if counter is None else counter["n"]


@pytest.mark.parametrize("nth", [3, 17])
async def test_a_sqlite_writer_killed_inside_its_transaction(tmp_path: Path, nth: int) -> None:
    url = f"sqlite://{tmp_path / 'state.db'}"
    code, acked = acknowledged(
        start_writer(url, ORCHESTRATOR_FAILPOINT=f"sqlite.before_commit@{nth}")
    )

    assert code == -signal.SIGKILL
    assert acked == nth - 1
    await check_store(url, acked, in_flight_may_land=False)
