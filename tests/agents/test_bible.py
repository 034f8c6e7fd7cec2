"""The bible agent on the offline model: a valid cast from a premise, in English and
Chinese, the same every time; and the rules a proposed cast is held to."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agents.bible import BibleWriter
from agents.offline.client import OfflineClient
from agents.prompts import PromptLibrary
from agents.schemas import BibleBrief, StoryBible
from agents.text import CJK_CHAR
from tests.agents.conftest import OFFLINE

PREMISE = {
    "en": "A harbour clerk finds a ship in her father's ledger that never existed.",
    "zh": "港务局的年轻文书在亡父的账簿里发现了一艘从未存在过的船。",
}


async def _propose(language: str, world: list[str] | None = None) -> StoryBible:
    brief = BibleBrief(
        title="T", premise=PREMISE[language], language=language, chapters=6, world=world or []
    )
    agent = BibleWriter(OfflineClient(seed=3), PromptLibrary(), language, OFFLINE)
    return await agent.propose(brief)


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_a_premise_gives_a_cast_with_places_and_world_notes(language: str) -> None:
    bible = await _propose(language)
    assert len(bible.cast) >= 3
    assert len({c.initial.location for c in bible.cast}) == len(bible.cast)
    assert all(c.name and c.role and c.description and c.initial.emotion for c in bible.cast)
    assert all(c.initial.inventory for c in bible.cast)
    assert bible.cast[0].initial.relationships, "the protagonist sees the others somehow"
    assert bible.world
    assert bible == await _propose(language), "the same premise, the same bible"


async def test_a_chinese_bible_is_written_in_chinese() -> None:
    bible = await _propose("zh")
    for character in bible.cast:
        assert CJK_CHAR.search(character.name)
        assert CJK_CHAR.search(character.description)
    assert all(CJK_CHAR.search(note) for note in bible.world)
    assert bible.cast[0].role == "主角"


async def test_the_authors_world_notes_are_kept_first() -> None:
    bible = await _propose("en", world=["Vell is always foggy."])
    assert bible.world[0] == "Vell is always foggy."


def _character(name: str, knows: str | None = None) -> dict[str, object]:
    relationships = {knows: "a friend"} if knows else {}
    return {"name": name, "initial": {"location": "here", "relationships": relationships}}


def test_a_cast_with_a_name_twice_does_not_validate() -> None:
    with pytest.raises(ValidationError, match="'Ann' is used twice"):
        StoryBible.model_validate({"cast": [_character("Ann"), _character("Ann")]})


def test_a_relationship_to_someone_outside_the_cast_does_not_validate() -> None:
    with pytest.raises(ValidationError, match="'Zed', who is not in the cast"):
        StoryBible.model_validate({"cast": [_character("Ann", "Zed"), _character("Bo")]})
