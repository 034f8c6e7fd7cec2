"""The assembled book and its Markdown: one file per chapter and one manuscript.

A :class:`Book` is what the orchestrator hands to the exporters once a run has
finished: its metadata and its chapters, kept in number order. The Markdown
is deterministic (no timestamps), so re-exporting an unchanged book rewrites
identical files. The EPUB exporter (:mod:`orchestrator.artifacts.epub`) shares the
headings and labels defined here, so both formats read the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from agents.text import paragraphs

# Characters that would end or nest a Markdown link's text.
_LINK_TEXT_SPECIAL = re.compile(r"([\\\[\]])")
# Characters that would end or nest Markdown emphasis.
_EMPHASIS_SPECIAL = re.compile(r"([\\*_])")


@dataclass(frozen=True, slots=True)
class BookChapter:
    """One finished chapter: its number, its title and its prose."""

    number: int
    title: str
    text: str  # the chapter's prose: paragraphs separated by blank lines, plain text
    file: str | None = None  # the chapter file as the author wrote it, kept byte for byte


@dataclass(frozen=True, slots=True)
class Book:
    """A finished book: metadata plus its chapters, always held in number order."""

    title: str
    language: str  # "en" or "zh"
    identifier: str  # unique id for the edition, e.g. the run id
    genre: str = ""
    premise: str = ""
    chapters: tuple[BookChapter, ...] = ()
    generated: datetime | None = None  # when assembled (UTC); used in the EPUB's dcterms:modified

    def __post_init__(self) -> None:
        # Anchors, file names and spine ids are all derived from the chapter
        # number, so two chapters with one number would silently clash.
        ordered = tuple(sorted(self.chapters, key=lambda chapter: chapter.number))
        numbers = [chapter.number for chapter in ordered]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate chapter numbers: {duplicates}")
        object.__setattr__(self, "chapters", ordered)


def is_chinese(language: str) -> bool:
    """Whether ``language`` (a BCP 47 tag such as ``zh`` or ``zh-Hans``) is Chinese."""
    return language.lower().split("-")[0] == "zh"


def chapter_heading(chapter: BookChapter, language: str) -> str:
    """The chapter's heading: ``Chapter 3: Title`` or ``第3章 Title``.

    An untitled chapter gets the bare label (``Chapter 3``, ``第3章``).
    """
    title = chapter.title.strip()
    label = f"第{chapter.number}章" if is_chinese(language) else f"Chapter {chapter.number}"
    if not title:
        return label
    return f"{label} {title}" if is_chinese(language) else f"{label}: {title}"


def contents_heading(language: str) -> str:
    """The table of contents' heading."""
    return "目录" if is_chinese(language) else "Contents"


def chapter_count_text(count: int, language: str) -> str:
    """How many chapters the book has, as a short line for the title page."""
    if is_chinese(language):
        return f"共{count}章"
    return f"{count} chapter" if count == 1 else f"{count} chapters"


def chapter_anchor(chapter: BookChapter) -> str:
    """The id the manuscript gives the chapter's heading, e.g. ``chapter-3``."""
    return f"chapter-{chapter.number}"


def chapter_markdown(chapter: BookChapter, language: str) -> str:
    """The per-chapter Markdown file: ``# <heading>``, a blank line, the prose."""
    heading = f"# {chapter_heading(chapter, language)}"
    return _join_blocks([heading, *paragraphs(chapter.text)])


def manuscript_markdown(book: Book) -> str:
    """The whole book as one Markdown document: title page, contents, chapters.

    Each chapter heading is preceded by an explicit ``<a id="chapter-N"></a>``
    because renderers disagree on how they derive ids from heading text
    (especially for Chinese), and the contents must link reliably.
    """
    blocks = [*_title_page(book), "---", *_contents(book)]
    for chapter in book.chapters:
        blocks.extend(_chapter_section(chapter, book.language))
    return _join_blocks(blocks)


def _title_page(book: Book) -> list[str]:
    blocks = [f"# {book.title}"]
    if book.genre.strip():
        blocks.append(f"*{_escape(_EMPHASIS_SPECIAL, book.genre.strip())}*")
    blocks.extend(paragraphs(book.premise))
    blocks.append(chapter_count_text(len(book.chapters), book.language))
    return blocks


def _contents(book: Book) -> list[str]:
    entries = [
        f"- [{_escape(_LINK_TEXT_SPECIAL, chapter_heading(chapter, book.language))}]"
        f"(#{chapter_anchor(chapter)})"
        for chapter in book.chapters
    ]
    heading = f"## {contents_heading(book.language)}"
    return [heading, "\n".join(entries)] if entries else [heading]


def _chapter_section(chapter: BookChapter, language: str) -> list[str]:
    anchor = f'<a id="{chapter_anchor(chapter)}"></a>'
    return [anchor, f"## {chapter_heading(chapter, language)}", *paragraphs(chapter.text)]


def _escape(special: re.Pattern[str], text: str) -> str:
    return special.sub(r"\\\1", text)


def _join_blocks(blocks: list[str]) -> str:
    """Blocks separated by one blank line, ending with exactly one newline."""
    return "\n\n".join(blocks).rstrip("\n") + "\n"
