"""``orchestrator state rollback RUN --to-chapter K``: rewind a run so chapters K.. can be
written again.

The files that described the finished book (chapter files from K on, the
manuscript, findings, metrics, summary and manifest) are moved into
``superseded/<when>-before-<K>/`` first, then the store is rewound in one
transaction. A kill between the two leaves an unfinished run whose chapters
are all still committed: ``resume`` keeps them and assembles the book again.
Nothing is deleted: every attempt's text stays in ``drafts/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.prompts import PromptLibrary
from orchestrator.artifacts.folder import SUMMARY_FILE, RunFolder, RunFolderError, chapter_stem
from orchestrator.artifacts.manifest import MANIFEST_FILE
from orchestrator.artifacts.ownership import claim_store
from state import RewindResult, open_state
from state.atomic import fsync_dir

# What a finished run wrote from its chapters; stale once chapters are rewritten.
_BOOK_FILES = (
    SUMMARY_FILE,
    MANIFEST_FILE,
    "manuscript.md",
    "manuscript.epub",
    "findings.json",
    "metrics.json",
)


@dataclass
class RunRewind:
    """What a rollback did to the store and to the run folder."""

    run_dir: Path
    store: RewindResult
    moved: list[str] = field(default_factory=list)
    superseded_dir: Path | None = None
    language: str = "en"  # the book's: what render says is in it

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            **self.store.model_dump(mode="json"),
            "moved": self.moved,
            "superseded_dir": str(self.superseded_dir) if self.superseded_dir else None,
        }

    def render(self) -> str:
        """What the rollback did, in the book's language."""
        labels = PromptLibrary().labels(self.language)
        k = self.store.to_chapter
        if not self.store.chapters and not self.moved:
            return labels("rewind.nothing", chapter=k)
        chapters = labels.join([str(n) for n in self.store.chapters])
        lines = [labels("rewind.done", chapter=k, chapters=chapters, fields=self.store.fields)]
        if self.superseded_dir is not None:
            moved = labels.join(self.moved)
            lines.append(labels("rewind.moved", folder=self.superseded_dir, files=moved))
        lines.append(labels("rewind.drafts", folder=self.run_dir / "drafts"))
        lines.append(labels("rewind.resume", run_dir=self.run_dir))
        return "\n".join(lines)


async def rewind_run(folder: RunFolder, to_chapter: int) -> RunRewind:
    """Rewind the run's store to before ``to_chapter``; the caller holds the run lock.
    A store that belongs to another folder (this one is a copy) is refused first."""
    url = folder.store_url()
    async with open_state(url, create=False) as manager:
        await claim_store(manager, folder, url)
        committed = sorted(await manager.chapters())
        if committed and to_chapter > committed[-1] + 1:
            raise RunFolderError(
                f"--to-chapter {to_chapter} is past the last chapter on record "
                f"({committed[-1]}); nothing to roll back"
            )
        stale = (
            _stale_files(folder, to_chapter) if committed and to_chapter <= committed[-1] else []
        )
        moved_to = _move_aside(folder, stale, to_chapter) if stale else None
        result = await manager.rewind(to_chapter)
    moved = [p.relative_to(folder.root).as_posix() for p in stale]
    return RunRewind(folder.root, result, moved, moved_to, folder.language())


def _stale_files(folder: RunFolder, to_chapter: int) -> list[Path]:
    chapters = sorted((folder.root / "chapters").glob("*.md"))
    later = [p for p in chapters if p.stem.isdigit() and int(p.stem) >= to_chapter]
    book = [folder.path(name) for name in _BOOK_FILES if folder.path(name).is_file()]
    return later + book


def _move_aside(folder: RunFolder, files: list[Path], to_chapter: int) -> Path:
    """Move ``files`` into a new ``superseded/`` folder, keeping their relative paths."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = folder.root / "superseded" / f"{stamp}-before-{chapter_stem(to_chapter)}"
    # The manifest goes last: until then the old book stays verifiable as far as it can.
    for path in sorted(files, key=lambda p: p.name == MANIFEST_FILE):
        destination = target / path.relative_to(folder.root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, destination)
        fsync_dir(destination.parent)
        fsync_dir(path.parent)
    return target
