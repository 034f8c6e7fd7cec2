"""A Chinese book is Chinese everywhere its author reads: the terminal, the summary, the
outline, revision notes, findings and the title page; counts are characters (字)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import (
    CJK,
    SMALL,
    ZH_PROJECT,
    RunCli,
    json_lines,
    orchestrator,
    write_project,
)

# English words the old output used where a Chinese author reads (field keys, labels).
ENGLISH_LEAKS = re.compile(
    r"\b(words|chapter|written|revised|location|alive|knowledge|inventory|plants|pays off"
    r"|characters/|findings|continuity)\b"
)
FOLDED_PREMISE = """\
  premise: >
    港务局的年轻文书在亡父的账簿里
    发现了一艘从未存在过的船。
"""


def _zh_project(folder: Path) -> Path:
    text = ZH_PROJECT.replace(
        "  premise: 港务局的年轻文书在亡父的账簿里发现了一艘从未存在过的船。\n", FOLDED_PREMISE
    )
    return write_project(folder, text)


def test_the_terminal_and_the_summary_speak_the_books_language(
    tmp_path: Path, run_cli: RunCli
) -> None:
    run = run_cli(_zh_project(tmp_path), *SMALL, "llm.drift=0.6", "orchestrator.max_attempts=2")
    assert run.proc.returncode == 0, run.proc.stderr
    progress = run.proc.stderr.splitlines()
    assert any(line.startswith("第1章写成：") and line.endswith("字") for line in progress)
    summary_line = run.proc.stdout.splitlines()[0]
    assert summary_line.startswith("灯塔账簿：已写成6/6章"), summary_line
    for line in [*progress, *run.proc.stdout.splitlines()[:3]]:
        assert not ENGLISH_LEAKS.search(line.split(" -> ")[0]), line


def test_revision_notes_name_what_changed_in_chinese(tmp_path: Path, run_cli: RunCli) -> None:
    for seed in range(12):
        run = run_cli(
            _zh_project(tmp_path),
            *SMALL,
            "llm.drift=0.6",
            f"llm.seed={seed}",
            "orchestrator.max_attempts=2",
            run_dir=f"seed-{seed}",
            flags=("--json",),
        )
        events = json_lines(run.proc.stdout)
        notes = [r for e in events if e["event"] == "chapter_revision" for r in e["reasons"]]
        if notes:
            break
    assert notes, "no seed gave a revision"
    for note in notes:
        assert CJK.search(note), note
        assert not ENGLISH_LEAKS.search(note), note


def test_unresolved_contradictions_become_findings_in_chinese(
    tmp_path: Path, run_cli: RunCli
) -> None:
    findings: list[dict[str, str]] = []
    for seed in range(12):
        run = run_cli(
            _zh_project(tmp_path),
            *SMALL,
            "llm.drift=0.8",
            f"llm.seed={seed}",
            "orchestrator.max_attempts=1",
            run_dir=f"seed-{seed}",
        )
        findings = [f for f in run.read_json("findings.json") if f["detail"].startswith("第")]
        if findings:
            break
    assert findings, "no seed left a contradiction unresolved"
    for finding in findings:
        assert "前面各章留下的是" in finding["detail"], finding
        assert not ENGLISH_LEAKS.search(finding["detail"]), finding


def test_the_outline_and_the_title_page_read_as_chinese(tmp_path: Path, run_cli: RunCli) -> None:
    run = run_cli(_zh_project(tmp_path), *SMALL)
    outline = (run.folder / "outline.md").read_text(encoding="utf-8")
    for label in ("## 第1章 ", "**视角**：", "**出场人物**：", "**情节**"):
        assert label in outline
    assert "['" not in outline
    assert not ENGLISH_LEAKS.search(outline)
    manuscript = (run.folder / "manuscript.md").read_text(encoding="utf-8")
    assert "亡父的账簿里发现了一艘" in manuscript  # the folded line joined without a space


def test_an_english_book_stays_english(tmp_path: Path, run_cli: RunCli, project: Path) -> None:
    run = run_cli(project, *SMALL)
    assert re.search(r"^chapter 1 written: [\d,]+ words$", run.proc.stderr, re.M)
    outline = (run.folder / "outline.md").read_text(encoding="utf-8")
    assert "## Chapter 1: " in outline
    assert "**point of view**: " in outline


def test_status_of_an_unfinished_chinese_run_is_in_chinese(tmp_path: Path, run_cli: RunCli) -> None:
    run = run_cli(_zh_project(tmp_path), *SMALL)
    (run.folder / "summary.json").unlink()  # as if it had died before its summary
    shown = orchestrator("status", run.folder, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    head, progress, incidents, resume = shown.stdout.splitlines()
    assert head.endswith("：已中断")
    assert progress.startswith("灯塔账簿：已写成6/6章")
    assert incidents == "  没有重试；没有错误"
    assert "继续写作：orchestrator resume" in resume


def test_a_rollback_of_a_chinese_run_says_so_in_chinese(tmp_path: Path, run_cli: RunCli) -> None:
    run = run_cli(_zh_project(tmp_path), *SMALL)
    rolled = orchestrator("state", "rollback", run.folder, "--to-chapter", "4", cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    first, *rest = rolled.stdout.splitlines()
    assert first.startswith("已回退到第4章之前：舍去第4、5、6章")
    assert rest[-1].startswith("重新写作：orchestrator resume")
    assert not ENGLISH_LEAKS.search(first)
