"""``orchestrator run`` on a Redis store with a password: the password opens the store and is
written nowhere; the run gets a namespace of its own; a resume takes the password from
``$ORCHESTRATOR_REDIS_PASSWORD``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from state.backends.redis_url import PASSWORD_ENV
from tests.redis.conftest import NO_PERSISTENCE, RedisServer

REPO = Path(__file__).resolve().parents[2]
SECRET = "pa55-in-the-url"


def orchestrator(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env={**base, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_password_in_the_url_opens_the_store_and_stays_out_of_the_run(
    redis_server: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = redis_server(*NO_PERSISTENCE, password=SECRET)
    run_dir = tmp_path / "novel-on-redis"
    sets = [
        f"state.url=redis://:{SECRET}@127.0.0.1:{server.port}/0",
        "project.chapters=3",
        "project.target_words=150",
        "orchestrator.html_report=false",
    ]
    args = ["run", str(REPO / "config.yaml"), "--run-dir", str(run_dir), "--quiet"]
    for value in sets:
        args += ["--set", value]

    ran = orchestrator(*args)

    assert ran.returncode == 0, ran.stderr
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path
    url = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["state_url"]
    assert "namespace=novel-on-redis" in url

    refused = orchestrator("resume", str(run_dir), "--quiet")
    assert refused.returncode == 2
    assert PASSWORD_ENV in refused.stderr
    assert SECRET not in refused.stderr

    resumed = orchestrator("resume", str(run_dir), "--quiet", **{PASSWORD_ENV: SECRET})
    assert resumed.returncode == 0, resumed.stderr
