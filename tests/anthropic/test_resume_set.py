"""``orchestrator resume RUN --set``: a run its budget stopped, given more, goes on.

Runs are real subprocesses on the fake Messages API (the offline model has no
price, so no budget would ever stop it). Whatever ``resume --set`` refuses leaves
the run folder byte for byte as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.anthropic.conftest import StartFake, anthropic_env, run_on_fake
from tests.e2e.conftest import Run, orchestrator
from tests.fake_anthropic import FakeAnthropic

CHAPTERS = 4
STOPPED_AT = ("orchestrator.mode=sequential", "orchestrator.context_tokens=1000")


def stopped_run(base: Path, fake: FakeAnthropic, budget: float) -> Run:
    """A run of CHAPTERS chapters that ``budget`` stops (exit 1)."""
    run = run_on_fake(
        base, fake, f"project.chapters={CHAPTERS}", *STOPPED_AT, f"llm.budget_usd={budget}"
    )
    assert run.proc.returncode == 1, run.proc.stderr
    assert run.summary["budget"]["stopped"] is True
    return run


def resume(run: Run, fake: FakeAnthropic, *sets: str) -> Any:
    args: list[str | Path] = ["resume", run.folder]
    for override in sets:
        args += ["--set", override]
    return orchestrator(*args, cwd=run.folder.parent, env=anthropic_env(fake))


def journal(run: Run) -> list[dict[str, Any]]:
    text = (run.folder / "model_calls.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a folder, by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_run_its_budget_stopped_goes_on_with_more(start_fake: StartFake, tmp_path: Path) -> None:
    fake = start_fake()
    run = stopped_run(tmp_path, fake, budget=0.03)
    stopped = run.summary["budget"]["not_started"]
    written = [n for n in range(1, CHAPTERS + 1) if n not in stopped]
    assert written
    assert stopped
    before = {n: len(fake.of("writer", n)) for n in written}

    proc = resume(run, fake, "llm.budget_usd=1")

    assert proc.returncode == 0, proc.stderr
    assert "config changed for the rest of the run: llm.budget_usd 0.03 -> 1.0" in proc.stderr
    summary = run.summary
    assert summary["written"] == CHAPTERS
    assert summary["budget"] == {
        "limit_usd": 1.0,
        "spent_usd": summary["budget"]["spent_usd"],
        "stopped": False,
        "not_started": [],
    }
    assert {n: len(fake.of("writer", n)) for n in written} == before  # not written again
    assert all(fake.of("writer", n) for n in stopped)
    # The new value is the run's config now, and run.json says when and what changed.
    config = yaml.safe_load((run.folder / "config.yaml").read_text(encoding="utf-8"))
    assert config["llm"]["budget_usd"] == 1.0
    [change] = run.read_json("run.json")["config_changes"]
    assert change["set"] == ["llm.budget_usd=1"]
    assert change["changed"] == [{"field": "llm.budget_usd", "from": 0.03, "to": 1.0}]
    assert change["at"].endswith("Z")
    verified = orchestrator("verify", run.folder, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout
    # Finished now: another resume says so and changes nothing.
    files = snapshot(run.folder)
    again = resume(run, fake, "llm.budget_usd=2")
    assert again.returncode == 0, again.stderr
    assert "is finished: 4/4 chapters written; nothing to resume, nothing changed" in again.stdout
    assert "the --set values were not applied" in again.stdout
    assert snapshot(run.folder) == files


def test_the_stopped_run_stays_valid_between_the_change_and_the_end(
    start_fake: StartFake, tmp_path: Path
) -> None:
    """The manifest follows the new config.yaml at once: a resume that dies after the
    change leaves a folder that verifies and resumes."""
    fake = start_fake()
    run = stopped_run(tmp_path, fake, budget=0.03)
    # A value no chapter can be paid with: the change is recorded, the run stops again.
    proc = resume(run, fake, "llm.budget_usd=0.031")
    assert proc.returncode == 1, proc.stderr
    assert orchestrator("verify", run.folder, cwd=tmp_path).returncode == 0
    assert len(run.read_json("run.json")["config_changes"]) == 1


def test_a_bad_value_or_path_changes_nothing(start_fake: StartFake, tmp_path: Path) -> None:
    fake = start_fake()
    run = stopped_run(tmp_path, fake, budget=0.03)
    files = snapshot(run.folder)
    calls = len(fake.requests)

    bad_value = resume(run, fake, "llm.budget_usd=lots")
    assert bad_value.returncode == 2
    expected = "error: --set llm.budget_usd=lots: llm.budget_usd: expected a number, got 'lots'"
    assert bad_value.stderr.strip() == expected  # as `run --set` says it
    bad_path = resume(run, fake, "llm.budget_usd.more=1")
    assert bad_path.returncode == 2
    assert "--set llm.budget_usd.more=1" in bad_path.stderr
    not_a_set = resume(run, fake, "llm.budget_usd")
    assert not_a_set.returncode == 2
    assert "expected path=value" in not_a_set.stderr
    for proc in (bad_value, bad_path, not_a_set):
        assert "Traceback" not in proc.stderr
    assert snapshot(run.folder) == files
    assert len(fake.requests) == calls


def test_what_a_started_run_rests_on_is_refused(start_fake: StartFake, tmp_path: Path) -> None:
    fake = start_fake()
    run = stopped_run(tmp_path, fake, budget=0.03)
    files = snapshot(run.folder)

    proc = resume(run, fake, "llm.budget_usd=1", "project.chapters=9", "project.language=zh")

    assert proc.returncode == 2
    assert "--set project.chapters=9: project.chapters: cannot change once a run has started: " in (
        proc.stderr
    )
    assert "the outline, the story state and the chapters written were made from it" in proc.stderr
    assert "--set project.language=zh: project.language: cannot change" in proc.stderr
    assert "2 problems in the project file" in proc.stderr
    store = resume(run, fake, f"state.url=sqlite://{tmp_path / 'other.db'}")
    assert store.returncode == 2
    assert "state.url: cannot change" in store.stderr
    assert "orchestrator state migrate" in store.stderr
    assert snapshot(run.folder) == files
    # The same value is no change: allowed, and nothing is recorded for it.
    same = resume(run, fake, f"project.chapters={CHAPTERS}", "llm.budget_usd=1")
    assert same.returncode == 0, same.stderr
    [change] = run.read_json("run.json")["config_changes"]
    assert [c["field"] for c in change["changed"]] == ["llm.budget_usd"]


def test_a_run_stopped_before_any_chapter_pays_for_no_review(
    start_fake: StartFake, tmp_path: Path
) -> None:
    fake = start_fake()
    run = stopped_run(tmp_path, fake, budget=0.0001)  # less than the outline costs
    assert run.summary["written"] == 0
    assert fake.of("editor") == []

    again = resume(run, fake)  # the same budget: still nothing to write, nothing to review
    assert again.returncode == 1, again.stderr
    assert [call["agent"] for call in journal(run)] == ["planner"]

    more = resume(run, fake, "llm.budget_usd=1")
    assert more.returncode == 0, more.stderr
    agents = [call["agent"] for call in journal(run)]
    assert agents.count("editor") == 1
    assert agents.count("planner") == 1  # the outline is kept
