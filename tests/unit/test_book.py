from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from agents.text import paragraphs
from orchestrator.artifacts.book import (
    Book,
    BookChapter,
    chapter_heading,
    chapter_markdown,
    manuscript_markdown,
)

LINK = re.compile(r"\[(?P<label>(?:\\.|[^\]\\])*)\]\(#(?P<anchor>[^)]+)\)")
ANCHOR = re.compile(r'<a id="(?P<anchor>[^"]+)"></a>')


def make_book(language: str = "en", count: int = 3, **overrides: Any) -> Book:
    chapters = tuple(
        BookChapter(n, f"Title {n}", f"First paragraph of {n}.\n\nSecond of {n}.")
        for n in range(1, count + 1)
    )
    base = Book(
        title="The Long Road",
        language=language,
        identifier="run-1",
        genre="Fantasy",
        premise="A courier crosses a kingdom.",
        chapters=chapters,
    )
    return replace(base, **overrides)


def chapter_headings(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE)


def test_english_heading() -> None:
    assert chapter_heading(BookChapter(3, "The Title", ""), "en") == "Chapter 3: The Title"


def test_chinese_heading() -> None:
    assert chapter_heading(BookChapter(3, "归途", ""), "zh") == "第3章 归途"


def test_untitled_chapter_gets_bare_label() -> None:
    assert chapter_heading(BookChapter(4, "  ", ""), "en") == "Chapter 4"
    assert chapter_heading(BookChapter(4, "", ""), "zh") == "第4章"


def test_chapter_markdown_is_heading_then_prose() -> None:
    chapter = BookChapter(2, "Fog", "One.\n\nTwo.\n")
    assert chapter_markdown(chapter, "en") == "# Chapter 2: Fog\n\nOne.\n\nTwo.\n"


def test_paragraphs_split_on_blank_lines_with_stray_spaces() -> None:
    text = "\r\nA line\nstill A.\r\n  \r\n\n\nB.\n \t\nC.  \n"
    assert paragraphs(text) == ["A line\nstill A.", "B.", "C."]


def test_contents_links_resolve_to_anchors() -> None:
    markdown = manuscript_markdown(make_book(count=5))
    links = [m["anchor"] for m in LINK.finditer(markdown)]
    anchors = [m["anchor"] for m in ANCHOR.finditer(markdown)]
    assert len(links) == 5
    assert links == anchors
    assert len(set(anchors)) == 5


def test_each_anchor_sits_right_before_its_heading() -> None:
    markdown = manuscript_markdown(make_book(count=3))
    for n in range(1, 4):
        assert f'<a id="chapter-{n}"></a>\n\n## Chapter {n}: Title {n}\n' in markdown


def test_chapters_appear_in_number_order_whatever_the_input_order() -> None:
    chapters = tuple(BookChapter(n, f"T{n}", f"Body {n}.") for n in (3, 1, 10, 2))
    markdown = manuscript_markdown(make_book(chapters=chapters))
    expected = [f"Chapter {n}: T{n}" for n in (1, 2, 3, 10)]
    assert chapter_headings(markdown) == ["Contents", *expected]
    positions = [markdown.index(f"Body {n}.") for n in (1, 2, 3, 10)]
    assert positions == sorted(positions)


def test_title_page_precedes_rule_and_contents() -> None:
    markdown = manuscript_markdown(make_book(count=12))
    assert markdown.startswith("# The Long Road\n\n")
    title_page, _, rest = markdown.partition("\n---\n")
    assert "*Fantasy*" in title_page
    assert "A courier crosses a kingdom." in title_page
    assert "12 chapters" in title_page
    assert rest.lstrip().startswith("## Contents")


def test_title_page_skips_missing_genre_and_premise() -> None:
    markdown = manuscript_markdown(make_book(count=1, genre="", premise=""))
    title_page = markdown.partition("\n---\n")[0]
    assert title_page == "# The Long Road\n\n1 chapter\n"


def test_chinese_manuscript_labels() -> None:
    chapters = (BookChapter(1, "出发", "他走了。"), BookChapter(2, "归来", "她回来了。"))
    markdown = manuscript_markdown(make_book("zh", chapters=chapters))
    assert "共2章" in markdown
    assert chapter_headings(markdown) == ["目录", "第1章 出发", "第2章 归来"]
    assert [m["label"] for m in LINK.finditer(markdown)] == ["第1章 出发", "第2章 归来"]


def test_ends_with_exactly_one_newline() -> None:
    chapters = (BookChapter(1, "End", "Last words.\n\n\n\n"),)
    markdown = manuscript_markdown(make_book(chapters=chapters))
    assert markdown.endswith("Last words.\n")
    assert not markdown.endswith("\n\n")
    assert chapter_markdown(chapters[0], "en").endswith("Last words.\n")


def test_empty_book_still_renders() -> None:
    markdown = manuscript_markdown(make_book(count=0))
    assert "0 chapters" in markdown
    assert markdown.endswith("## Contents\n")


def test_special_characters_are_preserved_in_prose_and_headings() -> None:
    prose = 'Tom & Jerry said "<hi>" — 你好 * _x_'
    chapters = (BookChapter(1, "Cats & <Dogs>", prose),)
    markdown = manuscript_markdown(make_book(chapters=chapters))
    assert "## Chapter 1: Cats & <Dogs>\n" in markdown
    assert prose in markdown


def test_brackets_in_titles_do_not_break_contents_links() -> None:
    chapters = (BookChapter(1, "The [Lost] Key", "Text."),)
    markdown = manuscript_markdown(make_book(chapters=chapters))
    links = list(LINK.finditer(markdown))
    assert len(links) == 1
    assert links[0]["anchor"] == "chapter-1"
    assert links[0]["label"] == r"Chapter 1: The \[Lost\] Key"


def test_output_is_deterministic() -> None:
    assert manuscript_markdown(make_book()) == manuscript_markdown(make_book())


def test_duplicate_chapter_numbers_are_rejected() -> None:
    chapters = (BookChapter(1, "A", ""), BookChapter(1, "B", ""))
    with pytest.raises(ValueError, match="duplicate chapter numbers"):
        make_book(chapters=chapters)
