"""A worker whose Redis server goes away mid-run: one clear line, exit 1, nothing lost; the
run resumes with a new worker once the server is back (a private server, AOF always)."""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.e2e.conftest import json_lines, orchestrator, write_project
from tests.e2e.test_workers import finish, start
from tests.redis.conftest import AOF_ALWAYS, RedisServer

CHAPTERS = 8


def test_a_worker_that_loses_the_server_says_so_and_the_run_resumes(
    redis_server: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = redis_server(*AOF_ALWAYS)
    url = f"redis://127.0.0.1:{server.port}/0?reconnect=1"
    config = write_project(tmp_path)
    sets = (
        f"project.chapters={CHAPTERS}",
        "project.target_words=200",
        "orchestrator.html_report=false",
        "orchestrator.workers=0",
        "orchestrator.poll_seconds=0.1",
        "llm.latency_ms=300",
        f"state.url={url}",
    )
    args = ["run", str(config), "--run-dir", "run", "--json"]
    for override in sets:
        args += ["--set", override]
    coordinator = start(args, tmp_path)
    folder = tmp_path / "run"
    while not (folder / "run.json").exists():
        assert coordinator.poll() is None, coordinator.communicate()
    worker = start(["worker", "run", "--state", url, "--json"], tmp_path)
    assert worker.stdout is not None
    committed = 0
    for line in worker.stdout:
        committed += json.loads(line)["event"] == "chapter_committed"
        if committed == 2:
            break
    server.stop(signal.SIGKILL)

    code, _, err = finish(worker, timeout=60)
    assert code == 1, err
    # (A warning that it retries may come first; the error is one line, no traceback.)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: lost the state store redis://127.0.0.1:{server.port}/0")
    assert last.endswith("Start the worker again once the store is back")
    code, _, err = finish(coordinator, timeout=60)
    assert code == 1, err
    assert "orchestrator resume" in err

    server.start()
    resumed = start(["resume", str(folder), "--json"], tmp_path)
    again = start(["worker", "run", "--state", url, "--json"], tmp_path)
    code, out, err = finish(resumed)
    assert code == 0, err
    restored = next(e for e in json_lines(out) if e["event"] == "chapters_restored")
    assert len(restored["kept"]) >= 2  # what the first worker committed survived
    code, _, err = finish(again)
    assert code == 0, err
    history = orchestrator("state", "history", f"{url}&namespace=run", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    events = json_lines(history.stdout)
    kept = Counter(e["chapter"] for e in events if not e["superseded"])
    assert kept == Counter(range(1, CHAPTERS + 1))
    assert max(Counter((e["chapter"], e["attempt"]) for e in events).values()) == 1
    assert orchestrator("verify", folder, cwd=tmp_path).returncode == 0
