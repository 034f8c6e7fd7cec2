from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from agents.base import AgentSettings
from agents.clients.base import LLMRequest, LLMResponse, Usage
from agents.errors import AgentFailedError
from agents.offline.client import OfflineClient
from agents.planner import Planner
from agents.prompts import PromptLibrary
from agents.schemas import Outline, ProjectBrief
from agents.text import CJK_CHAR
from tests.agents.conftest import OFFLINE, make_brief


def _check_outline(outline: Outline, brief: ProjectBrief) -> None:
    cast = {sheet.name for sheet in brief.characters}
    assert [plan.number for plan in outline.chapters] == list(range(1, brief.chapters + 1))
    assert outline.problems_with(cast, brief.chapters) == []
    for plan in outline.chapters:
        assert plan.pov in plan.characters
        assert plan.beats
        assert plan.title
        assert plan.setting
    plants, payoffs = outline.plant_chapters(), outline.payoff_chapters()
    assert plants, "threads are planted"
    assert all(plants[thread] < chapter for thread, chapter in payoffs.items())


@pytest.mark.parametrize("chapters", [1, 3, 12, 300])
async def test_outline_has_one_valid_plan_per_chapter(
    chapters: int, client: OfflineClient, prompts: PromptLibrary
) -> None:
    brief = make_brief(chapters=chapters)
    outline = await Planner(client, prompts, "en", OFFLINE).plan(brief)
    assert len(outline.chapters) == chapters
    if chapters > 3:
        _check_outline(outline, brief)


async def test_the_antagonist_dies_once_and_stays_off_stage(
    client: OfflineClient, prompts: PromptLibrary
) -> None:
    outline = await Planner(client, prompts, "en", OFFLINE).plan(make_brief(chapters=12))
    deaths = [
        plan.number
        for plan in outline.chapters
        for change in plan.changes
        if change.field == "alive" and change.new is False
    ]
    assert deaths == [11]
    assert "Aldous Crane" in outline.chapter(11).characters
    assert "Aldous Crane" not in outline.chapter(12).named_characters()


async def test_planned_changes_follow_from_each_other(
    client: OfflineClient, prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    outline = await Planner(client, prompts, "en", OFFLINE).plan(brief)
    gifts = [c for plan in outline.chapters for c in plan.changes if c.field == "inventory"]
    assert gifts, "an item changes hands"
    assert all(isinstance(change.new, list) for change in gifts)


async def test_a_chinese_outline_is_in_chinese(
    client: OfflineClient, prompts: PromptLibrary, zh_brief: ProjectBrief
) -> None:
    outline = await Planner(client, prompts, "zh", OFFLINE).plan(zh_brief)
    _check_outline(outline, zh_brief)
    beats = "".join(beat for plan in outline.chapters for beat in plan.beats)
    assert len(CJK_CHAR.findall(beats)) > 0.8 * len(beats.replace(" ", ""))


class Scripted:
    """A model that replies from a script, and records what it was sent."""

    def __init__(self, replies: list[str | BaseModel]) -> None:
        self._replies: Iterator[str | BaseModel] = iter(replies)
        self.requests: list[LLMRequest] = []

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        reply = next(self._replies)
        if isinstance(reply, str):
            return LLMResponse(model="scripted", usage=Usage(), text=reply)
        return LLMResponse(model="scripted", usage=Usage(), parsed=reply)


async def test_an_invalid_reply_is_retried_with_what_was_wrong(
    client: OfflineClient, prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    good = await Planner(client, prompts, "en", OFFLINE).plan(brief)
    short = good.model_copy(update={"chapters": good.chapters[:2]})
    model = Scripted(['{"chapters": "none"}', short, good])
    settings = AgentSettings(model="scripted", attempts=3)
    assert await Planner(model, prompts, "en", settings).plan(brief) == good
    first_retry, second_retry = model.requests[1].messages[-1], model.requests[2].messages[-1]
    assert "chapters" in first_retry.content
    assert f"expected {brief.chapters} chapters, got 2" in second_retry.content


async def test_an_agent_gives_up_after_its_attempts(
    prompts: PromptLibrary, brief: ProjectBrief
) -> None:
    model = Scripted(["not json", "still not json"])
    with pytest.raises(AgentFailedError, match="planner: no valid reply after 2 attempts"):
        await Planner(model, prompts, "en", AgentSettings(model="scripted")).plan(brief)
