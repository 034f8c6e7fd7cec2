"""A premise-only project through the real SDK and the fake Messages API: one bible
request, with the bible tool's schema, then the book written with the cast it gave."""

from __future__ import annotations

from pathlib import Path

import yaml

from agents.clients.anthropic_wire import tool_for
from agents.schemas import StoryBible
from tests.anthropic.conftest import RUN_SETS, StartFake, anthropic_env
from tests.e2e.conftest import orchestrator, run_in
from tests.fake_anthropic.model import BIBLE_CAST, first_prompt, system_text


def test_a_premise_only_project_asks_for_one_bible(tmp_path: Path, start_fake: StartFake) -> None:
    fake = start_fake()
    made = orchestrator(
        "init", "novel.yaml", "--chapters", "3", "--premise", "A clerk finds a ship.", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    sets = (*RUN_SETS, "project.target_words=200", "orchestrator.html_report=false")
    run = run_in(tmp_path, tmp_path / "novel.yaml", *sets, env=anthropic_env(fake))
    assert run.proc.returncode == 0, run.proc.stderr

    [request] = fake.of("bible")
    assert request.body["tools"] == [tool_for(StoryBible)]
    assert request.body["tool_choice"] == {"type": "tool", "name": "story_bible"}
    assert "A clerk finds a ship." in first_prompt(request.body)

    bible = yaml.safe_load((run.folder / "bible.yaml").read_text(encoding="utf-8"))
    cast = [name for name, _, _ in BIBLE_CAST]
    assert [character["name"] for character in bible["characters"]] == cast
    [planner] = fake.of("planner")
    assert planner.at > request.at
    assert all(name in system_text(planner.body) for name in cast)
    assert run.summary["failed"] == []
