"""``orchestrator init``: a commented project file to start from, in English or Chinese,
with a premise and no cast (so the run's first step is the story bible)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from string import Template

import yaml

from agents.schemas import Language
from orchestrator.project.bible import template_text

PREMISE_INDENT = "    "


@dataclass(frozen=True, slots=True)
class Starter:
    """What ``init`` was told (None: the template's placeholder)."""

    language: Language = "en"
    title: str | None = None
    genre: str = ""
    chapters: int = 12
    premise: str | None = None


def starter_project(starter: Starter, file_name: str) -> str:
    """The project file's text; ``file_name`` is what its comments tell the author to run."""
    placeholder = yaml.safe_load(template_text("placeholders.yaml"))[starter.language]
    title = str(starter.title or placeholder["title"])
    premise = str(starter.premise or placeholder["premise"]).strip()
    return Template(template_text(f"project.{starter.language}.yaml")).substitute(
        file=file_name,
        title=_scalar(title),
        genre=_scalar(starter.genre),
        chapters=starter.chapters,
        premise=_block(premise, starter.language),
    )


def _scalar(text: str) -> str:
    """A YAML scalar that reads back as ``text`` whatever it holds (a JSON string is one)."""
    return json.dumps(text, ensure_ascii=False)


def _block(text: str, language: Language) -> str:
    """The lines of a folded block scalar (``premise: >``): English wrapped at spaces, Chinese
    one line per paragraph (the loader joins a Chinese book's folded lines without spaces)."""
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    lines: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        if index:
            lines.append("")
        if language == "en":
            lines += textwrap.wrap(paragraph, width=76)
        else:
            lines.append(paragraph)
    return "\n".join(PREMISE_INDENT + line if line else "" for line in lines)
