"""The writing figures of a run: its chapters' texts (``chapters/NNN.md``) with what the
chapter outcomes say of them, the book's target and language, the findings.

The run works them out at its end, with the store's final foreshadowing ledger, and
keeps them in ``summary.json``; a review of a run from before that works them out from
the folder alone (the thread figures are then not known).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from orchestrator.artifacts.folder import RunFolder
from orchestrator.project.config import ProjectSection
from orchestrator.review.writing import ChapterText, WritingFigures, writing_figures
from state.models import Foreshadowing


def chapter_body(markdown: str) -> str:
    """A chapter file's prose: its ``# heading`` line left out."""
    first, _, rest = markdown.lstrip().partition("\n")
    return rest if first.startswith("# ") else markdown


def chapter_texts(folder: RunFolder, outcomes: Iterable[Mapping[str, Any]]) -> list[ChapterText]:
    """The written chapters (``chapter_outcomes`` of ``summary.json``) with their prose."""
    texts = []
    for outcome in outcomes:
        path = folder.chapter_path(int(outcome["chapter"]))
        if outcome.get("status") == "failed" or not path.is_file():
            continue
        texts.append(
            ChapterText(
                chapter=int(outcome["chapter"]),
                text=chapter_body(path.read_text(encoding="utf-8")),
                continuations=int(outcome.get("continuations") or 0),
                stop_reason=outcome.get("stop_reason"),
                revisions=max(0, int(outcome.get("attempts") or 1) - 1),
            )
        )
    return texts


def target_words(folder: RunFolder) -> int:
    """``project.target_words`` of the run's copy of its project file (its default when
    the file does not say)."""
    default = int(ProjectSection.model_fields["target_words"].default)
    try:
        config = yaml.safe_load(folder.path("config.yaml").read_text(encoding="utf-8"))
        return int(config["project"].get("target_words", default))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError):
        return default


def run_writing(
    folder: RunFolder,
    outcomes: Iterable[Mapping[str, Any]],
    finding_chapters: Iterable[int],
    language: str | None = None,
    target: int | None = None,
    threads: Iterable[Foreshadowing] | None = None,
) -> WritingFigures:
    """The writing figures of the run in ``folder`` (language and target: the run's
    project file's, unless given)."""
    return writing_figures(
        chapter_texts(folder, outcomes),
        language or folder.language(),
        target or target_words(folder),
        finding_chapters,
        threads,
    )
