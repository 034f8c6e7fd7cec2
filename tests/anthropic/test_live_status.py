"""``orchestrator status RUN`` while the run writes: chapters done, tokens, dollars so far,
retries and errors so far, and the budget left.

The run is a real subprocess on the fake Messages API (priced, unlike the
offline model), slowed by the fake so that it can be looked at while it works;
chapter 1 meets a 429 first, so a retry is there to be counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.anthropic.conftest import RUN_SETS, StartFake, anthropic_env
from tests.e2e.conftest import orchestrator, write_project
from tests.fake_anthropic import Fault, Rule

BUDGET = 1.0
CHAPTERS = 4


def start_run(base: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    config = write_project(base)
    sets = (
        *RUN_SETS,
        f"project.chapters={CHAPTERS}",
        "orchestrator.mode=sequential",
        "orchestrator.html_report=false",
        f"llm.budget_usd={BUDGET}",
    )
    args = ["run", str(config), "--run-dir", "live", "--quiet"]
    for override in sets:
        args += ["--set", override]
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=base,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def status_while_running(folder: Path, proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The first ``status --json`` that finds the run running with a chapter written."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended ({proc.returncode}) before it was seen"
        if (folder / "run.json").exists():
            shown = orchestrator("status", folder, "--json", cwd=folder.parent)
            assert shown.returncode == 0, shown.stderr
            report: dict[str, Any] = json.loads(shown.stdout)
            if report["state"] == "running" and report["written"] >= 1:
                return report
        time.sleep(0.1)
    pytest.fail("the run was never seen running with a chapter written")


def test_status_of_a_live_run_shows_spend_retries_and_budget_left(
    start_fake: StartFake, tmp_path: Path
) -> None:
    slow = [Rule([Fault("slow", delay_s=1.0)], agent="writer", chapter=n) for n in (2, 3, 4)]
    fake = start_fake(
        Rule([Fault("rate_limit", retry_after=0.2)], agent="writer", chapter=1), *slow
    )
    proc = start_run(tmp_path, anthropic_env(fake))
    folder = tmp_path / "live"
    try:
        report = status_while_running(folder, proc)
        text = orchestrator("status", folder, cwd=tmp_path).stdout
    finally:
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr

    assert report["chapters"] == CHAPTERS
    assert 1 <= report["written"] < CHAPTERS
    usage = report["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert usage["cost_usd"] > 0
    budget = report["budget"]
    assert budget["limit_usd"] == BUDGET
    assert budget["spent_usd"] == pytest.approx(usage["cost_usd"], abs=1e-6)
    assert budget["left_usd"] == pytest.approx(BUDGET - usage["cost_usd"], abs=1e-6)
    incidents = report["retries_and_errors"]
    assert incidents["retries"] == [{"reason": "429 rate_limit_error", "count": 1, "waited_s": 0.2}]
    assert incidents["errors"] == []
    assert ": running (pid " in text
    assert "retries 1 (429 rate_limit_error ×1), waited 0.2 s; no errors" in text
    assert f"budget ${BUDGET:.4f}: $" in text
    assert " left" in text
    # Once it has finished, status shows the summary, which counts the same retry.
    done = json.loads(orchestrator("status", folder, "--json", cwd=tmp_path).stdout)
    assert done["state"] == "finished"
    assert done["retries_and_errors"] == incidents
