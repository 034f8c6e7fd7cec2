"""The last step of a run: the kept chapters become files, a manuscript and an e-book."""

from __future__ import annotations

from pathlib import Path

from orchestrator.artifacts.book import Book, chapter_markdown, manuscript_markdown
from orchestrator.artifacts.epub import epub_bytes
from orchestrator.artifacts.folder import RunFolder
from state.atomic import fsync_dir, replace_file

MANUSCRIPT_MD = "manuscript.md"
MANUSCRIPT_EPUB = "manuscript.epub"


def assemble(folder: RunFolder, book: Book) -> dict[str, Path]:
    """Write ``chapters/NNN.md``, ``manuscript.md`` and ``manuscript.epub``; their paths."""
    for chapter in book.chapters:
        text = chapter.file or chapter_markdown(chapter, book.language)
        # One folder fsync for all the chapters, not one per file.
        replace_file(folder.chapter_path(chapter.number), text.encode("utf-8"), sync_dir=False)
    fsync_dir(folder.path("chapters"))
    return {
        "chapters": folder.path("chapters"),
        "manuscript": folder.write_text(MANUSCRIPT_MD, manuscript_markdown(book)),
        "epub": folder.write_bytes(MANUSCRIPT_EPUB, epub_bytes(book)),
    }
