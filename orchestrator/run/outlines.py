"""The versions of a run's outline, and ``outline.yaml`` taken in after the author edits it.

The store keeps the outline in use (``meta/outline``) and every version of it
(``meta/outline_versions``: number, where it came from, the SHA-256 of its
``outline.yaml``, when, and the outline itself), both put in one transaction. The run
folder holds ``outline.yaml`` (the author's to edit), ``outline.json`` and
``outline.md`` (made from the version in use), and ``outlines/NNN.yaml``: each
version's ``outline.yaml`` byte for byte. A version the author made is their file as
they left it (comments and all): it is never rewritten.

``outline.yaml`` is edited when its digest is not the latest version's and it reads
as another outline (a change to its comments alone is no new version). Before any
chapter is committed, ``write`` and ``resume`` store the edit as a new version and
write from it; after, an edit is for ``orchestrator sync`` and they refuse it
(``OutlineEditedError``). ``MANIFEST.json`` records the latest version's digest for
``outline.yaml``, so ``verify`` tells an edit from damage (``edited``, not
``changed``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.prompts import PromptLibrary
from agents.render import render_outline_markdown
from agents.schemas import Outline
from orchestrator.artifacts.folder import RunFolder
from orchestrator.errors import EXIT_BAD_INPUT, OrchestratorError
from orchestrator.project.config import ProjectConfig
from orchestrator.project.outline_file import (
    OUTLINE_FILE,
    read_outline_file,
    render_outline_file,
)
from state import StateManager
from state.models import utc_iso

OUTLINE_META = "outline"
VERSIONS_META = "outline_versions"
VERSIONS_DIR = "outlines"


class OutlineEditedError(OrchestratorError):
    """``outline.yaml`` was edited after chapters were written: for ``sync``, not ``write``."""

    exit_code = EXIT_BAD_INPUT


@dataclass(frozen=True, slots=True)
class OutlineEdit:
    """An edited ``outline.yaml``, validated: the outline it gives and its bytes."""

    outline: Outline
    data: bytes


def version_file(number: int) -> str:
    """``outlines/002.yaml``: the ``outline.yaml`` of version ``number``."""
    return f"{VERSIONS_DIR}/{number:03d}.yaml"


def cast_of(config: ProjectConfig) -> list[str]:
    """The names an outline of this project may use."""
    return [character.name for character in config.characters]


async def versions(manager: StateManager) -> list[dict[str, Any]]:
    """Every stored version of the outline, oldest first."""
    doc = await manager.meta(VERSIONS_META)
    return list(doc["versions"]) if doc else []


async def store_outline(
    folder: RunFolder,
    manager: StateManager,
    outline: Outline,
    config: ProjectConfig,
    source: str,
    data: bytes | None = None,
) -> int:
    """Store ``outline`` as the run's next version and write its files; its number.

    ``data``: the author's ``outline.yaml`` it was read from (kept as it is); without
    it (a planned or given outline) ``outline.yaml`` is written from the outline.
    """
    language = config.project.language
    labels = PromptLibrary().labels(language)
    kept = await versions(manager)
    number = len(kept) + 1
    if data is None:
        text = render_outline_file(outline, labels, cast_of(config), shown_path(folder.root))
        data = text.encode("utf-8")
    # The files first: a run that dies before the transaction has no new version, and
    # files that the next version (or a new plan) writes over.
    (folder.root / VERSIONS_DIR).mkdir(exist_ok=True)
    folder.write_bytes(version_file(number), data)
    folder.write_bytes(OUTLINE_FILE, data)
    doc = outline.model_dump(mode="json")
    entry = {
        "version": number,
        "source": source,
        "sha256": hashlib.sha256(data).hexdigest(),
        "stored_at": utc_iso(),
        "outline": doc,
    }
    async with manager.transaction("put_outline") as tx:
        await tx.put(f"meta/{OUTLINE_META}", doc)
        await tx.put(f"meta/{VERSIONS_META}", {"versions": [*kept, entry]})
    folder.write_json("outline.json", doc)
    folder.write_text("outline.md", render_outline_markdown(outline, labels))
    return number


async def edited_outline(
    folder: RunFolder, manager: StateManager, config: ProjectConfig
) -> OutlineEdit | None:
    """The author's edit of ``outline.yaml``, validated (OutlineFileError, exit 2, if it
    is not a valid outline of this project), or None when there is none to take in:
    the file is the latest version's, or reads as the outline in use (only its
    comments or layout changed). Whether chapters are written is the caller's matter
    (``outline_edit`` for ``write``; ``sync`` takes an edit after them)."""
    path = folder.path(OUTLINE_FILE)
    kept = await versions(manager)
    if not path.is_file() or not kept:  # a run from before outline.yaml: nothing to edit
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() == kept[-1]["sha256"]:
        return None
    project = config.project
    shown = Path(shown_path(path))  # errors name the file as the author would type it
    outline = read_outline_file(shown, cast_of(config), project.chapters, project.language)
    stored = await manager.meta(OUTLINE_META)
    if stored is not None and Outline.model_validate(stored) == outline:
        return None
    return OutlineEdit(outline, data)


async def outline_edit(
    folder: RunFolder, manager: StateManager, config: ProjectConfig
) -> OutlineEdit | None:
    """``edited_outline`` for ``write`` and ``resume``: OutlineEditedError when chapters
    are committed already, since that edit is for ``sync``."""
    edit = await edited_outline(folder, manager, config)
    written = await manager.chapters() if edit is not None else {}
    if not written:
        return edit
    labels = PromptLibrary().labels(config.project.language)
    kept = await versions(manager)
    message = labels(
        "outline_file.written",
        file=shown_path(folder.path(OUTLINE_FILE)),
        n=len(written),
        run=shown_path(folder.root),
        latest=Path(version_file(len(kept))).name,
    )
    raise OutlineEditedError(message)


def latest_version_file(folder: RunFolder) -> Path | None:
    """The newest ``outlines/NNN.yaml`` in the folder (None before any)."""
    found = sorted((folder.root / VERSIONS_DIR).glob("[0-9][0-9][0-9].yaml"))
    return found[-1] if found else None


def shown_path(path: Path) -> str:
    """A path as a command line typed here would name it: relative below the current
    folder, else absolute."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)
