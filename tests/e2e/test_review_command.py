"""``orchestrator review RUN``: a finished run's figures, the writing's first, in the book's
language; a clear refusal for a folder that is not a finished run."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.e2e.conftest import CJK, Run, orchestrator


def review(run: Run, *flags: str) -> str:
    proc = orchestrator("review", run.folder, *flags, cwd=run.folder)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_review_leads_with_the_writing_figures_in_english(en_run: Run) -> None:
    text = review(en_run)
    writing = en_run.summary["writing"]["book"]
    assert text.index("The writing") < text.index("Chapter by chapter") < text.index("engineer")
    assert f"length score         {writing['length_score']:.1f}/100 against 200 words" in text
    assert f"{writing['repeated_pct']:.1f}% of the book's 4-word sequences" in text
    assert "per 10,000 words" in text
    assert "lock wait" in text.split("For the engineer")[1]
    assert len(re.findall(r"^\s+\d+\s+[\d,]+\s+\d+\.\d", text, re.M)) == 6  # a row a chapter


def test_the_review_of_a_chinese_book_is_chinese_and_counts_characters(zh_run: Run) -> None:
    text = review(zh_run)
    for chinese in ("文字", "篇幅得分", "每章目标200字", "8字片段", "每万字", "各章", "工程数据"):
        assert chinese in text
    letters = re.sub(r"orchestrator|sqlite|ms|P50|P99|MAX|\$", "", text)
    head, *lines = letters.splitlines()
    assert not re.search(r"[A-Za-z]{2,}", "\n".join(lines)), "English label in a Chinese review"
    assert CJK.search(head)


def test_the_review_as_json(en_run: Run) -> None:
    data = json.loads(review(en_run, "--json"))
    assert list(data) == ["run", "writing", "engineer"]
    assert data["writing"] == en_run.summary["writing"]
    assert data["engineer"]["store"]["backend"] == "sqlite"


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    proc = orchestrator("review", tmp_path, cwd=tmp_path)
    assert proc.returncode == 2
    assert "not a run folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_run_that_has_not_finished_is_refused(en_run: Run, tmp_path: Path) -> None:
    unfinished = tmp_path / "unfinished"
    shutil.copytree(en_run.folder, unfinished, ignore=shutil.ignore_patterns("*.lock"))
    (unfinished / "summary.json").unlink()
    proc = orchestrator("review", unfinished, cwd=tmp_path)
    assert proc.returncode == 2
    assert "has not finished" in proc.stderr
    assert "Traceback" not in proc.stderr
