"""A finished run's continuity machinery, applied again to its book as it stands.

``bench continuity`` injects contradictions into a finished book and asks
what the machinery makes of them. This module opens a run folder as the
bench's ``WrittenBook`` (the outline and kept deltas from the store, the
texts from the chapter files) and gives it the run's own machinery: the
frontier's read-set check, as the coordinator applies it, and the run's
continuity editor, with the run's model.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from agents.continuity import committed_deaths
from agents.editor import ContinuityEditor
from agents.prompts import PromptLibrary
from agents.schemas import ContinuityFinding, Outline
from orchestrator.artifacts.folder import RunFolder
from orchestrator.bench.continuity import WrittenBook
from orchestrator.project.bible import load_run_config
from orchestrator.project.briefs import agent_settings, initial_state, project_brief
from orchestrator.project.clients import make_client
from orchestrator.run.frontier import contradicted
from orchestrator.run.reports import read_summary
from orchestrator.run.restore import draft_body, event_delta
from state import StateManager, open_state
from state.models import Conflicting, StateDelta, StoryState


class RunMachinery:
    """The read-set check and the continuity editor of one run (``bench``'s ``Machinery``)."""

    def __init__(self, editor: ContinuityEditor) -> None:
        self.editor = editor

    def contradicted(
        self, initial: StoryState, outline: Outline, deltas: Mapping[int, StateDelta]
    ) -> dict[int, list[Conflicting]]:
        """The chapters the coordinator would send to revision (``frontier.contradicted``)."""
        return contradicted(initial, outline, deltas)

    async def review(
        self,
        outline: Outline,
        summaries: Mapping[int, str],
        state: StoryState,
        deltas: Mapping[int, StateDelta],
    ) -> list[ContinuityFinding]:
        """The run's continuity editor on the book (its rules and its model), told the
        deaths the deltas commit, as the coordinator tells it."""
        deaths = committed_deaths({n: delta.changes for n, delta in deltas.items()})
        return await self.editor.review(outline, summaries, state, deaths)


async def open_book(run_dir: Path) -> tuple[WrittenBook, RunMachinery]:
    """A finished run folder as a ``WrittenBook``, with its machinery."""
    folder = RunFolder.existing(run_dir)
    config = load_run_config(folder.root)
    async with open_state(folder.store_url(), create=False) as manager:
        book = await _book(manager, folder, config.project.language)
    summary = read_summary(folder.root)
    book = WrittenBook(
        outline=book.outline,
        initial=initial_state(config, book.outline),
        deltas=book.deltas,
        texts=book.texts,
        summaries=book.summaries,
        language=config.project.language,
        revisions=summary.revisions if summary is not None else 0,
    )
    editor = ContinuityEditor(
        make_client(config),
        PromptLibrary(),
        project_brief(config),
        agent_settings(config, "editor"),
    )
    return book, RunMachinery(editor)


async def _book(manager: StateManager, folder: RunFolder, language: str) -> WrittenBook:
    """The outline, kept deltas, texts and summaries the store and the folder hold."""
    kept = await manager.meta("outline")
    if kept is None:
        raise ValueError(f"{folder.root}: the store keeps no outline (the run never planned)")
    outline = Outline.model_validate(kept)
    records = await manager.chapters()
    deltas = {
        event.chapter: event_delta(event, records[event.chapter])
        for event in await manager.history()
        if not event.superseded and event.chapter in records
    }
    texts = {
        n: draft_body(folder.chapter_path(n).read_text(encoding="utf-8"))
        for n in deltas
        if folder.chapter_path(n).exists()
    }
    summaries = {n: records[n].summary for n in deltas}
    return WrittenBook(outline, StoryState(), deltas, texts, summaries, language)
