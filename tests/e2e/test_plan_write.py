"""``orchestrator plan``, the author's edit of ``outline.yaml``, then ``orchestrator write``.

A planned run stops with its outline; the book is written from the outline as the
author left it (version 2 of the run's outline); a malformed ``outline.yaml`` is
refused at its line and field with the folder left byte-identical; an edit after
chapters are written is for ``sync``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from state import open_state
from tests.e2e.conftest import CJK, SMALL, ZH_PROJECT, Run, orchestrator, write_project

FOUR = (*SMALL, "project.chapters=4")


def plan_in(base: Path, config: Path, *sets: str, run_dir: str = "run") -> Run:
    args: list[str | Path] = [config, "--run-dir", run_dir]
    for override in sets:
        args += ["--set", override]
    return Run(base / run_dir, orchestrator("plan", *args, cwd=base))


def digests(folder: Path) -> dict[str, str]:
    """Every file of a folder with its SHA-256."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def versions(run: Run) -> list[dict[str, Any]]:
    """The outline versions the run's store keeps."""

    async def read() -> list[dict[str, Any]]:
        async with open_state(run.url, create=False) as manager:
            doc = await manager.meta("outline_versions")
        assert doc is not None
        return list(doc["versions"])

    return asyncio.run(read())


def line_of(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[: text.index(needle, start)].count("\n") + 1


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A planned run of 4 chapters, never written: tests put it back as they found it."""
    base = tmp_path_factory.mktemp("planned")
    run = plan_in(base, write_project(base), *FOUR)
    assert run.proc.returncode == 0, run.proc.stderr
    return run


def edit(text: str) -> str:
    """The author's edit: chapter 2 retitled, told by another character, its first beat
    changed, and a change added to its plan."""
    block = text.index("# Chapter 2")
    head, chapter_2 = text[:block], text[block:]
    chapter_2 = re.sub(r"title: .*", "title: The Keeper's Silence", chapter_2, count=1)
    chapter_2 = re.sub(r"pov: .*", "pov: Ilse Varga", chapter_2, count=1)
    chapter_2 = re.sub(
        r"beats:\n  - .*", "beats:\n  - Ilse rows out to the rock in the fog", chapter_2, count=1
    )
    chapter_2 = chapter_2.replace(
        "  changes:\n",
        "  changes:\n  - key: characters/Ilse Varga\n    field: emotion\n    new: wary\n",
        1,
    )
    return head + chapter_2


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A planned run whose outline the author edited, then wrote with ``write``."""
    base = tmp_path_factory.mktemp("written")
    run = plan_in(base, write_project(base), *FOUR)
    assert run.proc.returncode == 0, run.proc.stderr
    path = run.folder / "outline.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return Run(run.folder, orchestrator("write", run.folder, cwd=base))


def test_plan_stops_with_the_outline_and_no_chapter(planned: Run) -> None:
    assert "Traceback" not in planned.proc.stderr
    for name in ("outline.yaml", "outline.md", "outline.json", "outlines/001.yaml"):
        assert (planned.folder / name).is_file(), name
    assert not list((planned.folder / "chapters").iterdir())
    assert not (planned.folder / "manuscript.md").exists()
    assert "edit it, then write the book: orchestrator write run\n" in planned.proc.stdout
    status = orchestrator("status", planned.folder, cwd=planned.folder)
    assert "planned" in status.stdout
    assert f"orchestrator write {planned.folder}" in status.stdout


def test_the_plan_is_the_first_version_of_the_outline(planned: Run) -> None:
    outline_yaml = (planned.folder / "outline.yaml").read_bytes()
    assert (planned.folder / "outlines" / "001.yaml").read_bytes() == outline_yaml
    [first] = versions(planned)
    assert first["version"] == 1
    assert first["source"] == "planner"
    assert first["sha256"] == hashlib.sha256(outline_yaml).hexdigest()


def test_write_writes_the_book_from_the_edited_outline(written: Run) -> None:
    assert written.proc.returncode == 0, written.proc.stderr
    assert "outline version 2 stored from outline.yaml" in written.proc.stderr
    assert written.chapter_text(2).startswith("# Chapter 2: The Keeper's Silence\n")
    assert "Ilse rows out to the rock in the fog" in written.chapter_text(2)
    plan = written.read_json("outline.json")["chapters"][1]
    assert plan["pov"] == "Ilse Varga"
    assert {"key": "characters/Ilse Varga", "field": "emotion", "new": "wary"} in plan["changes"]
    assert "## Chapter 2: The Keeper's Silence" in (written.folder / "outline.md").read_text()


def test_every_version_is_kept(written: Run) -> None:
    first, second = versions(written)
    assert (first["version"], first["source"]) == (1, "planner")
    assert (second["version"], second["source"]) == (2, "author")
    edited = (written.folder / "outline.yaml").read_bytes()
    assert (
        written.folder / "outlines" / "002.yaml"
    ).read_bytes() == edited  # as the author left it
    assert b"The Keeper's Silence" not in (written.folder / "outlines" / "001.yaml").read_bytes()


def test_verify_passes_after_write(written: Run) -> None:
    proc = orchestrator("verify", written.folder, "--json", cwd=written.folder)
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["edited"] == []


def test_an_edit_after_writing_is_for_sync(written: Run) -> None:
    path = written.folder / "outline.yaml"
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original.replace("The Keeper's Silence", "Fog"), encoding="utf-8")
        before = digests(written.folder)
        for command in ("write", "resume"):
            proc = orchestrator(command, written.folder, cwd=written.folder)
            assert proc.returncode == 2, proc.stderr
            assert "`orchestrator sync .`" in proc.stderr  # the folder as typed in its cwd
            assert digests(written.folder) == before
        check = orchestrator("verify", written.folder, "--json", cwd=written.folder)
        assert check.returncode == 0  # an edit, not damage
        assert json.loads(check.stdout)["edited"] == ["outline.yaml"]
    finally:
        path.write_text(original, encoding="utf-8")


def _bad_yaml(text: str) -> tuple[str, str, int]:
    bad = re.sub(r"(# Chapter 3\n- number: 3\n  title: )(.*)", r"\1\2: oops: here", text)
    return bad, "invalid YAML", line_of(bad, "oops: here")


def _missing_field(text: str) -> tuple[str, str, int]:
    bad = re.sub(r"(# Chapter 4\n(?:.*\n){2})  pov: .*\n", r"\1", text)
    return bad, "chapters.4.pov: required field is missing", line_of(bad, "- number: 4")


def _unknown_character(text: str) -> tuple[str, str, int]:
    block = text.index("# Chapter 4")
    bad = text[:block] + re.sub(r"pov: .*", "pov: Nobody", text[block:], count=1)
    return bad, "chapters.4.pov: unknown character 'Nobody'", line_of(bad, "pov: Nobody")


def _paid_before_planted(text: str) -> tuple[str, str, int]:
    block = text.index("# Chapter 1")
    bad = text[:block] + text[block:].replace(
        "  payoffs: []", "  payoffs:\n  - the-never-thread", 1
    )
    line = line_of(bad, "- the-never-thread")
    return (
        bad,
        "chapters.1.payoffs.1: thread 'the-never-thread' is paid off but never planted",
        line,
    )


def _wrong_count(text: str) -> tuple[str, str, int]:
    bad = text[: text.index("# Chapter 4")] + text[text.index("\nthreads:") :]
    return (
        bad,
        "chapters: expected 4 chapters (the project's project.chapters), got 3",
        line_of(bad, "chapters:"),
    )


MALFORMED: dict[str, Callable[[str], tuple[str, str, int]]] = {
    "bad YAML": _bad_yaml,
    "a missing field": _missing_field,
    "an unknown character": _unknown_character,
    "a thread paid off before it is planted": _paid_before_planted,
    "the wrong chapter count": _wrong_count,
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_outline_is_refused_at_its_line(planned: Run, case: str) -> None:
    path = planned.folder / "outline.yaml"
    original = path.read_text(encoding="utf-8")
    bad, message, line = MALFORMED[case](original)
    try:
        path.write_text(bad, encoding="utf-8")
        before = digests(planned.folder)
        proc = orchestrator("write", planned.folder, cwd=planned.folder)
        assert proc.returncode == 2, proc.stderr
        assert f"outline.yaml:{line}:" in proc.stderr, proc.stderr
        assert message in proc.stderr
        assert "nothing was changed" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert digests(planned.folder) == before
    finally:
        path.write_text(original, encoding="utf-8")


def test_run_writes_outline_yaml_too(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    args = ["--run-dir", "run", *(x for s in FOUR for x in ("--set", s))]
    proc = orchestrator("run", config, *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "run"
    assert (folder / "outline.yaml").read_bytes() == (folder / "outlines" / "001.yaml").read_bytes()
    assert orchestrator("verify", folder, cwd=tmp_path).returncode == 0


def test_a_chinese_outline_and_its_errors_are_chinese(tmp_path: Path) -> None:
    config = write_project(tmp_path, ZH_PROJECT, "novel.yaml")
    run = plan_in(tmp_path, config, "project.target_words=200")
    assert run.proc.returncode == 0, run.proc.stderr
    assert "改好后开始写作" in run.proc.stdout
    path = run.folder / "outline.yaml"
    text = path.read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments
    assert all(CJK.search(line) for line in comments if len(line) > 20), comments
    block = text.index("# 第2章")
    path.write_text(
        text[:block] + re.sub(r"pov: .*", "pov: 无名氏", text[block:], count=1), "utf-8"
    )
    proc = orchestrator("write", run.folder, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "大纲有1处问题，未作任何改动" in proc.stderr
    assert "chapters.2.pov: 人物表中没有「无名氏」" in proc.stderr


def test_resume_of_a_planned_run_takes_the_edit_as_write_does(tmp_path: Path) -> None:
    run = plan_in(tmp_path, write_project(tmp_path), *FOUR)
    assert run.proc.returncode == 0, run.proc.stderr
    path = run.folder / "outline.yaml"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    proc = orchestrator("resume", run.folder, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "outline version 2 stored from outline.yaml" in proc.stderr
    assert run.chapter_text(2).startswith("# Chapter 2: The Keeper's Silence\n")
