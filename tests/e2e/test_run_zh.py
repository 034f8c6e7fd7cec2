"""A Chinese run: Chinese headings and contents, and word counts that count characters."""

from __future__ import annotations

import re
import zipfile

import pytest

from tests.e2e.conftest import CJK, Run, body_of


def test_exits_zero(zh_run: Run) -> None:
    assert zh_run.proc.returncode == 0, zh_run.proc.stderr
    assert zh_run.summary["language"] == "zh"
    assert zh_run.summary["failed"] == []


def test_manuscript_has_chinese_contents_and_headings(zh_run: Run) -> None:
    manuscript = (zh_run.folder / "manuscript.md").read_text(encoding="utf-8")
    assert manuscript.startswith("# 灯塔账簿\n")
    assert "## 目录" in manuscript
    assert "共6章" in manuscript
    contents = re.findall(r"^- \[第(\d+)章 .+\]\(#chapter-(\d+)\)$", manuscript, re.M)
    assert contents == [(str(n), str(n)) for n in range(1, 7)]
    assert re.findall(r"^## 第(\d+)章 ", manuscript, re.M) == [str(n) for n in range(1, 7)]


def test_chapter_files_have_chinese_headings(zh_run: Run) -> None:
    for number, outcome in zh_run.outcomes().items():
        heading = zh_run.chapter_text(number).partition("\n")[0]
        assert heading == f"# 第{number}章 {outcome['title']}"


def test_words_count_characters_not_spaces(zh_run: Run) -> None:
    bodies = {n: body_of(zh_run.chapter_text(n)) for n in range(1, 7)}
    for number, outcome in zh_run.outcomes().items():
        characters = len(CJK.findall(bodies[number]))
        assert outcome["words"] == pytest.approx(characters, rel=0.05)
        # Counting whitespace-separated "words" would give a handful per chapter.
        assert outcome["words"] > 10 * len(bodies[number].split())
    total = sum(len(CJK.findall(body)) for body in bodies.values())
    assert zh_run.summary["words"] == pytest.approx(total, rel=0.05)


def test_epub_is_chinese(zh_run: Run) -> None:
    with zipfile.ZipFile(zh_run.folder / "manuscript.epub") as epub:
        assert epub.infolist()[0].filename == "mimetype"
        opf = epub.read("OEBPS/content.opf").decode("utf-8")
    assert "<dc:language>zh</dc:language>" in opf
    assert "灯塔账簿" in opf
