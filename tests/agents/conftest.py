"""Small books, a prompt library and offline clients for the agents tests."""

from __future__ import annotations

import pytest

from agents.base import AgentSettings
from agents.offline.client import OfflineClient
from agents.prompts import PromptLibrary
from agents.schemas import CharacterSheet, ProjectBrief
from state.models import CharacterState, StoryState

OFFLINE = AgentSettings(model="offline")


def make_brief(chapters: int = 8, language: str = "en", target_words: int = 250) -> ProjectBrief:
    """A four-character book; the antagonist makes a death possible."""
    cast = {
        "en": [
            ("Mara Quell", "protagonist", "the Harbour Office", "restless", ["a brass key"]),
            ("Tobias Wren", "ally", "the lighthouse", "anxious", ["a logbook"]),
            ("Ilse Varga", "rival", "the Drowned Anchor", "wary", []),
            ("Aldous Crane", "antagonist", "the Guildhall", "composed", ["the Guild's seal"]),
        ],
        "zh": [
            ("林晚", "主角", "港务局", "焦躁", ["一把铜钥匙"]),
            ("周默", "盟友", "灯塔", "不安", ["一本值班日志"]),
            ("沈青", "对手", "沉锚酒馆", "戒备", []),
            ("顾远山", "反派", "行会大厅", "镇定", ["行会的印章"]),
        ],
    }[language]
    initial = StoryState(
        characters={
            name: CharacterState(
                name=name, role=role, location=place, emotion=emotion, inventory=items
            )
            for name, role, place, emotion, items in cast
        }
    )
    return ProjectBrief(
        title="The Ledger" if language == "en" else "灯塔账簿",
        premise="A clerk finds a ship in her father's ledger that never existed.",
        genre="mystery",
        language=language,
        chapters=chapters,
        target_words=target_words,
        world=["Vell is a foggy harbour city."],
        characters=[CharacterSheet(name=n, role=r, description=f"{n}, {r}") for n, r, *_ in cast],
        initial=initial,
    )


@pytest.fixture
def prompts() -> PromptLibrary:
    return PromptLibrary()


@pytest.fixture
def brief() -> ProjectBrief:
    return make_brief()


@pytest.fixture
def zh_brief() -> ProjectBrief:
    return make_brief(language="zh", target_words=400)


@pytest.fixture
def client() -> OfflineClient:
    return OfflineClient(seed=3)
