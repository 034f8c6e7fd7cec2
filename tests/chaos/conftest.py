"""Running, killing and resuming real `orchestrator` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Random kill times come from this seed; a failure names it so it can be replayed.
SEED = int(os.environ.get("CHAOS_SEED", "20261121"))
EXAMPLE = ROOT / "config.yaml"
# Enough latency that a kill lands with writes in flight; small enough to stay fast.
SLOW = ["llm.latency_ms=80", "orchestrator.workers=4", "llm.drift=0.3", "project.target_words=200"]
SLOW.append("orchestrator.html_report=false")  # not what these tests look at


def cli(*args: str, env: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-m", "orchestrator", *args]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATOR_FAILPOINT"}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **extra}


def start_run(run_dir: Path, *overrides: str, **env: str) -> subprocess.Popen[bytes]:
    args = ["run", str(EXAMPLE), "--run-dir", str(run_dir), "--quiet"]
    for override in [*SLOW, *overrides]:
        args += ["--set", override]
    return subprocess.Popen(
        cli(*args), env=child_env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def start_resume(run_dir: Path, via_run: bool = False, **env: str) -> subprocess.Popen[bytes]:
    """``orchestrator resume RUN`` (or ``orchestrator run --resume RUN``)."""
    args = ["run", "--resume"] if via_run else ["resume"]
    return subprocess.Popen(
        cli(*args, str(run_dir), "--quiet"),
        env=child_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish(child: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, str]:
    """Wait for a child; its exit code and stderr (the pipe is closed)."""
    _, err = child.communicate(timeout=timeout)
    return child.returncode, err.decode(errors="replace")


def history(run_dir: Path) -> list[dict[str, Any]]:
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    out = subprocess.run(
        cli("state", "history", meta["state_url"]),
        cwd=run_dir,  # a store in the run folder is recorded relative to it
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def check_finished_run(run_dir: Path) -> dict[str, Any]:
    """The oracle: complete, verified, one delta per attempt, one kept per chapter."""
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["failed"] == []
    assert summary["written"] == summary["chapters"]
    verified = subprocess.run(cli("verify", str(run_dir)), env=child_env(), capture_output=True)
    assert verified.returncode == 0, verified.stdout
    # Healthy store (integrity_check), no lease left behind, no stray temp file kept.
    doctor = subprocess.run(
        cli("doctor", str(run_dir), "--json"), env=child_env(), capture_output=True, text=True
    )
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    failed = [c for name, c in checks.items() if not c["ok"] and c["level"] == "error"]
    assert [c["name"] for c in failed] in ([], ["disk"]), failed  # (a tiny test disk is full)
    assert checks["leases"]["ok"]
    assert checks.get("sqlite.integrity", checks.get("redis.schema", {})).get("ok"), checks
    events = history(run_dir)
    keys = Counter(e["idempotency_key"] for e in events)
    assert max(keys.values()) == 1, f"applied twice: {keys.most_common(3)}"
    kept = Counter(e["chapter"] for e in events if not e["superseded"])
    assert sorted(kept) == list(range(1, summary["chapters"] + 1))
    assert set(kept.values()) == {1}
    for event in events:
        draft = run_dir / "drafts" / f"{event['chapter']:03d}-{event['attempt']}.md"
        assert draft.is_file(), f"committed attempt without its draft: {draft.name}"
    manuscript = (run_dir / "manuscript.md").read_text(encoding="utf-8")
    for number in range(1, summary["chapters"] + 1):
        chapter = (run_dir / "chapters" / f"{number:03d}.md").read_text(encoding="utf-8")
        assert chapter.partition("\n\n")[2].strip() in manuscript
    return summary
