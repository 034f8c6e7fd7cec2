"""A premise-only project's story bible: what the bible agent is asked, the YAML file the
run folder keeps (``bible.yaml``, commented, in the book's language), and the project
as the rest of the run sees it once the bible gives it a cast."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml

from agents.schemas import BibleBrief, StoryBible
from orchestrator.project.config import BibleFile, ProjectConfig
from orchestrator.project.load import load_bible, load_config

BIBLE_FILE = "bible.yaml"


def template_text(name: str) -> str:
    """A template shipped in ``orchestrator/project/templates``."""
    return (resources.files("orchestrator.project") / "templates" / name).read_text("utf-8")


def bible_brief(config: ProjectConfig) -> BibleBrief:
    """What the bible agent is told: the project without a cast."""
    project = config.project
    return BibleBrief(
        title=project.title,
        premise=project.premise,
        genre=project.genre,
        language=project.language,
        chapters=project.chapters,
        world=list(config.world),
    )


def bible_yaml(bible: StoryBible, config: ProjectConfig) -> str:
    """The bible as the run folder keeps it: a commented header, then ``characters:`` and
    ``world:`` as a project file would have them."""
    language = config.project.language
    header = Template(template_text(f"bible.{language}.yaml"))
    body = {
        "characters": [_character(c.model_dump(mode="json")) for c in bible.cast],
        "world": list(bible.world),
    }
    dumped = yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=88)
    return header.safe_substitute(title=config.project.title) + dumped


def _character(data: dict[str, Any]) -> dict[str, Any]:
    """A character in the order a project file lists its fields."""
    initial = data["initial"]
    return {
        "name": data["name"],
        "role": data["role"],
        "description": data["description"],
        "initial": {
            "location": initial["location"],
            "emotion": initial["emotion"],
            "inventory": initial["inventory"],
            "knowledge": initial["knowledge"],
            "relationships": initial["relationships"],
        },
    }


def with_bible(config: ProjectConfig, bible: BibleFile) -> ProjectConfig:
    """The project with the bible's cast and world (a Chinese book's folded lines joined)."""
    if config.project.language == "zh":
        bible = bible.joined()
    return config.model_copy(update={"characters": bible.characters, "world": bible.world})


def load_run_config(root: Path) -> ProjectConfig:
    """A run folder's project as its run sees it: its ``config.yaml``, with the cast and
    world of its ``bible.yaml`` when the project gives none (ConfigError for either file:
    line and field)."""
    config = load_config(root / "config.yaml")
    bible = root / BIBLE_FILE
    if config.characters or not bible.exists():
        return config
    return with_bible(config, load_bible(bible))
