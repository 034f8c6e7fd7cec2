"""outline.yaml: written with comments in the book's language, read back with every problem
at its line and field (chapters.4.pov: chapter 4's point of view)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.prompts import PromptLibrary
from agents.schemas import ChapterPlan, Outline, PlannedChange, ThreadPlan
from orchestrator.project.outline_file import (
    OutlineFileError,
    parse_outline_file,
    read_outline_file,
    render_outline_file,
)

CAST = ["Ann", "Ben", "Cy"]


def outline(chapters: int = 4) -> Outline:
    return Outline(
        title="The Mill",
        chapters=[
            ChapterPlan(
                number=n,
                title=f"Part {n}",
                pov=CAST[n % 3],
                setting="the mill",
                characters=CAST[:2],
                beats=[f"beat {n}.1", f"beat {n}.2: a colon"],
                changes=[PlannedChange(key="characters/Ann", field="location", new="the quay")],
                plants=["the-key"] if n == 1 else [],
                payoffs=["the-key"] if n == chapters else [],
            )
            for n in range(1, chapters + 1)
        ],
        threads=[ThreadPlan(id="the-key", description="a key in the wall")],
    )


def text(language: str = "en", chapters: int = 4) -> str:
    labels = PromptLibrary().labels(language)
    return render_outline_file(outline(chapters), labels, CAST, "runs/mill")


def problems(source: str, language: str = "en", chapters: int = 4) -> list[str]:
    with pytest.raises(OutlineFileError) as caught:
        parse_outline_file(source, "outline.yaml", CAST, chapters, language)
    assert caught.value.exit_code == 2
    return str(caught.value).splitlines()


def line_of(source: str, needle: str, after: str = "") -> int:
    """The 1-based line of the first ``needle`` after the first ``after``."""
    start = source.index(after) if after else 0
    return source[: source.index(needle, start)].count("\n") + 1


def test_the_file_reads_back_as_the_outline() -> None:
    assert parse_outline_file(text(), "outline.yaml", CAST, 4) == outline()


def test_its_comments_say_what_may_be_edited_and_how_it_is_taken_in() -> None:
    source = text()
    head = source[: source.index("\ntitle:")]
    assert all(line.startswith("#") or not line for line in head.splitlines())
    for field in ("title", "pov", "setting", "characters", "beats", "changes", "plants"):
        assert re.search(rf"^#\s+{field}\s", head, re.M), field
    assert "orchestrator write runs/mill" in head
    assert "Ann, Ben, Cy" in head


def test_a_chinese_book_has_chinese_comments() -> None:
    head = text("zh").split("\ntitle:")[0]
    assert "每章的字段" in head
    assert "人物表：Ann、Ben、Cy" in head
    assert "# 第1章" in text("zh")


def test_a_change_to_the_comments_alone_reads_as_the_same_outline() -> None:
    source = text().replace("# Chapter 2", "# Chapter 2: the turn") + "# my note\n"
    assert parse_outline_file(source, "outline.yaml", CAST, 4) == outline()


def test_bad_yaml_names_its_line() -> None:
    source = text().replace("title: Part 3", "title: Part 3: the: end")
    lines = problems(source)
    assert lines[0] == "outline.yaml: 1 problem(s) in the outline; nothing was changed"
    assert lines[1].startswith(f"outline.yaml:{line_of(source, 'title: Part 3')}:")
    assert "invalid YAML" in lines[1]


def test_a_missing_field_names_the_chapter_counted_from_one() -> None:
    source = text().replace("  title: Part 4\n  pov: Ben\n", "  title: Part 4\n")
    line = line_of(source, "- number: 4")
    assert f"outline.yaml:{line}: chapters.4.pov: required field is missing" in problems(source)


def test_an_unknown_character_is_named_with_the_cast() -> None:
    source = text().replace("  pov: Ann", "  pov: Dora")
    line = line_of(source, "pov: Dora")
    expected = (
        f"outline.yaml:{line}: chapters.3.pov: unknown character 'Dora' (the cast: Ann, Ben, Cy)"
    )
    assert expected in problems(source)


def test_an_unknown_character_on_stage_or_changed_is_found_where_the_file_lists_it() -> None:
    source = text().replace("  - Ben\n", "  - Bert\n", 1)
    source = source.replace("key: characters/Ann", "key: characters/Al", 2)
    lines = problems(source)
    assert f"outline.yaml:{line_of(source, '- Bert')}: chapters.1.characters.2: " in lines[1]
    assert (
        f"outline.yaml:{line_of(source, 'characters/Al')}: chapters.1.changes.1.key: " in lines[2]
    )
    assert lines[3].startswith(f"outline.yaml:{line_of(source, 'characters/Al', '# Chapter 2')}:")


def nth_replaced(source: str, old: str, new: str, n: int) -> str:
    """``source`` with the ``n``-th (1-based) ``old`` replaced by ``new``."""
    parts = source.split(old)
    return old.join(parts[:n]) + new + old.join(parts[n:])


def test_a_thread_paid_off_before_it_is_planted() -> None:
    source = text().replace("  plants:\n  - the-key\n", "  plants: []\n")
    source = nth_replaced(source, "  plants: []\n", "  plants:\n  - the-key\n", 4)
    line = line_of(source, "- the-key", "  payoffs:\n  - the-key")
    lines = problems(source)
    expected = (
        f"outline.yaml:{line}: chapters.4.payoffs.1: thread 'the-key' is planted in chapter 4"
    )
    assert any(entry.startswith(expected) for entry in lines), lines


def test_a_thread_never_planted() -> None:
    source = text().replace("  plants:\n  - the-key\n", "  plants: []\n")
    line = line_of(source, "- the-key", "  payoffs:\n  - the-key")
    assert any(
        entry.startswith(f"outline.yaml:{line}: chapters.4.payoffs.1: thread 'the-key' is paid")
        for entry in problems(source)
    )


def test_the_wrong_chapter_count() -> None:
    source = text(chapters=3)
    line = line_of(source, "chapters:")
    expected = (
        f"outline.yaml:{line}: chapters: expected 4 chapters (the project's project.chapters), "
        "got 3"
    )
    assert expected in problems(source, chapters=4)


def test_chapters_out_of_order() -> None:
    source = text().replace("number: 2", "number: 3")
    line = line_of(source, "number: 3")
    assert any(
        entry.startswith(f"outline.yaml:{line}: chapters.2.number: expected 2")
        for entry in problems(source)
    )


def test_every_problem_is_listed_in_line_order() -> None:
    source = text().replace("pov: Ben", "pov: Bob", 1).replace("  pov: Ann", "  pov: Al")
    lines = problems(source)
    assert lines[0].startswith("outline.yaml: 2 problem(s)")
    numbers = [int(entry.split(":")[1]) for entry in lines[1:3]]
    assert numbers == sorted(numbers)
    assert lines[-1].startswith("correct them")


def test_a_chinese_books_errors_are_chinese() -> None:
    source = text("zh").replace("  pov: Ann", "  pov: 无名氏")
    lines = problems(source, "zh")
    assert lines[0] == "outline.yaml：大纲有1处问题，未作任何改动"
    line = line_of(source, "pov: 无名氏")
    assert (
        lines[1]
        == f"outline.yaml:{line}: chapters.3.pov: 人物表中没有「无名氏」（人物表：Ann、Ben、Cy）"
    )
    assert lines[2].startswith("改正后再运行")


def test_a_chinese_books_field_checks_are_chinese_too() -> None:
    source = text("zh").replace("  title: Part 4\n  pov: Ben\n", "  title: Part 4\n")
    source = source.replace("title: Part 2", "title: [2]")
    lines = problems(source, "zh")
    assert (
        lines[1]
        == f"outline.yaml:{line_of(source, 'title: [2]')}: chapters.2.title: 应为文字，实为 [2]"
    )
    assert (
        lines[2] == f"outline.yaml:{line_of(source, '- number: 4')}: chapters.4.pov: 缺少必填字段"
    )


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "outline.yaml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(OutlineFileError, match="is not UTF-8"):
        read_outline_file(path, CAST, 4)
