"""The Redis server stopped in the middle of ``orchestrator run``, and started again.

Each test runs its own redis-server (AOF, ``appendfsync always``, so a restart
keeps every acknowledged commit) on a free port and kills it while chapters
are being written: after the commits of the first chapters, with the model's
latency keeping the others in flight.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import redis

from state.backends.redis_url import RedisAddress
from tests.chaos.conftest import check_finished_run, finish, history, start_resume, start_run
from tests.redis.conftest import AOF_ALWAYS, RedisServer

Server = Callable[..., RedisServer]
Events = list[tuple[str, dict[str, str]]]
# Twelve chapters, four at a time, 150 ms a model call: the run is mid-way for about a second.
MIDWAY = ("project.chapters=12", "llm.latency_ms=150")


def run_on(server: RedisServer, run_dir: Path, reconnect_s: float) -> subprocess.Popen[bytes]:
    """``orchestrator run`` on the server (namespace: the run's id), retrying ``reconnect_s``."""
    url = f"redis://127.0.0.1:{server.port}/0?reconnect={reconnect_s:g}"
    return start_run(run_dir, f"state.url={url}", *MIDWAY)


def committed_events(server: RedisServer, run_dir: Path) -> Events:
    """The run's event stream as the server holds it now (empty if there is none yet)."""
    key = RedisAddress("127.0.0.1", namespace=run_dir.name).key_prefix + "events"
    client = redis.Redis(port=server.port, decode_responses=True)
    try:
        return list(client.xrange(key))
    finally:
        client.close()


def kill_after_commits(server: RedisServer, run_dir: Path, commits: int) -> Events:
    """SIGKILL the server once ``commits`` chapters are committed; the events it had."""
    deadline = time.monotonic() + 60
    while len(seen := committed_events(server, run_dir)) < commits:
        assert time.monotonic() < deadline, "the run committed nothing"
        time.sleep(0.01)
    server.stop(signal.SIGKILL)
    return seen


def test_a_run_that_loses_its_server_stops_cleanly_and_resumes_to_a_whole_book(
    redis_server: Server, tmp_path: Path
) -> None:
    server = redis_server(*AOF_ALWAYS)
    run_dir = tmp_path / "run"
    child = run_on(server, run_dir, reconnect_s=1)
    before = kill_after_commits(server, run_dir, commits=3)

    code, err = finish(child)

    assert code == 1, err
    assert "Traceback" not in err
    message = err.strip().splitlines()[-1]
    assert message.startswith("error: lost the Redis server"), err
    assert f"127.0.0.1:{server.port}" in message
    assert message.endswith(f"orchestrator resume {run_dir}")
    assert not (run_dir / "summary.json").exists()

    server.start()  # same port, same folder: the AOF is read back
    assert committed_events(server, run_dir)[: len(before)] == before
    code, err = finish(start_resume(run_dir))
    assert code == 0, err
    check_finished_run(run_dir)
    attempts = Counter((e["chapter"], e["attempt"]) for e in history(run_dir))
    assert max(attempts.values()) == 1, attempts.most_common(3)


def test_a_server_back_within_the_retry_window_lets_the_run_carry_on(
    redis_server: Server, tmp_path: Path
) -> None:
    server = redis_server(*AOF_ALWAYS)
    run_dir = tmp_path / "run"
    child = run_on(server, run_dir, reconnect_s=30)
    kill_after_commits(server, run_dir, commits=3)
    time.sleep(0.5)  # the run's next store operations find nobody there
    server.start()

    code, err = finish(child)

    assert code == 0, err
    logged = (run_dir / "logs" / "run.jsonl").read_text(encoding="utf-8")
    assert '"event": "state.redis.retry"' in logged  # it did wait for the server
    assert '"event": "state.redis.back"' in logged
    check_finished_run(run_dir)
    attempts = Counter((e["chapter"], e["attempt"]) for e in history(run_dir))
    assert max(attempts.values()) == 1, attempts.most_common(3)
