"""An English run of a small project: every artifact, the manuscript, the e-book, the counts."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import EXAMPLE, Run, RunCli, body_of, write_project

RUN_FILES = [
    "run.json",
    "config.yaml",
    "outline.json",
    "outline.md",
    "manuscript.md",
    "manuscript.epub",
    "findings.json",
    "metrics.json",
    "summary.json",
    "logs/run.jsonl",
    "state.db",
]


def test_exits_zero(en_run: Run) -> None:
    assert en_run.proc.returncode == 0, en_run.proc.stderr
    assert "Traceback" not in en_run.proc.stderr


@pytest.mark.parametrize("name", RUN_FILES)
def test_writes_every_artifact(en_run: Run, name: str) -> None:
    path = en_run.folder / name
    assert path.is_file(), f"{name} missing from {sorted(p.name for p in en_run.folder.iterdir())}"
    assert path.stat().st_size > 0


def test_writes_a_draft_and_a_chapter_file_per_chapter(en_run: Run) -> None:
    chapters = en_run.summary["chapters"]
    assert chapters == 6
    names = sorted(p.name for p in (en_run.folder / "chapters").iterdir())
    assert names == [f"{n:03d}.md" for n in range(1, chapters + 1)]
    for number in range(1, chapters + 1):
        assert en_run.drafts(number), f"no draft of chapter {number}"


def test_summary_says_every_chapter_is_written(en_run: Run) -> None:
    summary = en_run.summary
    assert summary["chapters"] == summary["written"] == 6
    assert summary["failed"] == []
    assert [o["chapter"] for o in summary["chapter_outcomes"]] == list(range(1, 7))
    assert all(o["status"] in ("written", "revised") for o in summary["chapter_outcomes"])


def test_manuscript_has_title_contents_and_headings_in_order(en_run: Run) -> None:
    manuscript = (en_run.folder / "manuscript.md").read_text(encoding="utf-8")
    title = en_run.summary["title"]
    assert manuscript.startswith(f"# {title}\n")
    contents = re.findall(r"^- \[Chapter (\d+): .+\]\(#chapter-(\d+)\)$", manuscript, re.M)
    assert contents == [(str(n), str(n)) for n in range(1, 7)]
    headings = re.findall(r"^## Chapter (\d+): ", manuscript, re.M)
    assert headings == [str(n) for n in range(1, 7)]
    assert manuscript.index("## Contents") < manuscript.index("## Chapter 1: ")


def test_manuscript_holds_each_chapter_file_text_in_order(en_run: Run) -> None:
    manuscript = (en_run.folder / "manuscript.md").read_text(encoding="utf-8")
    where = [manuscript.index(body_of(en_run.chapter_text(n))) for n in range(1, 7)]
    assert where == sorted(where)


def test_chapter_heading_names_the_outcome_title(en_run: Run) -> None:
    for number, outcome in en_run.outcomes().items():
        heading = en_run.chapter_text(number).partition("\n")[0]
        assert heading == f"# Chapter {number}: {outcome['title']}"


def test_chapter_file_is_the_kept_draft(en_run: Run) -> None:
    for number, outcome in en_run.outcomes().items():
        kept = en_run.folder / "drafts" / f"{number:03d}-{outcome['kept_attempt']}.md"
        assert kept.read_text(encoding="utf-8") == en_run.chapter_text(number)


def test_epub_is_a_zip_whose_first_entry_is_mimetype(en_run: Run) -> None:
    with zipfile.ZipFile(en_run.folder / "manuscript.epub") as epub:
        first = epub.infolist()[0]
        assert first.filename == "mimetype"
        assert first.compress_type == zipfile.ZIP_STORED
        assert epub.read("mimetype") == b"application/epub+zip"
        assert epub.testzip() is None


def test_summary_words_match_the_chapter_files(en_run: Run) -> None:
    counted = {n: len(body_of(en_run.chapter_text(n)).split()) for n in range(1, 7)}
    for number, outcome in en_run.outcomes().items():
        assert outcome["words"] == pytest.approx(counted[number], rel=0.05)
    assert en_run.summary["words"] == sum(o["words"] for o in en_run.outcomes().values())
    assert en_run.summary["words"] == pytest.approx(sum(counted.values()), rel=0.05)


def test_words_are_near_the_target(en_run: Run) -> None:
    for outcome in en_run.outcomes().values():
        assert 100 <= outcome["words"] <= 600, outcome


def test_config_as_used_has_the_overrides(en_run: Run) -> None:
    used = (en_run.folder / "config.yaml").read_text(encoding="utf-8")
    assert re.search(r"^  chapters: 6$", used, re.M)
    assert re.search(r"^  target_words: 200$", used, re.M)


def test_run_file_names_the_run_and_its_store(en_run: Run) -> None:
    run = en_run.read_json("run.json")
    assert run["run_id"] == en_run.folder.name
    assert run["state_url"].startswith("sqlite://state.db?")  # relative to the run folder


def test_plain_output_ends_with_the_summary(en_run: Run) -> None:
    out = en_run.proc.stdout
    assert out.startswith(f"{en_run.summary['title']}: 6/6 chapters written")
    assert str(en_run.folder / "manuscript.md") in out


def test_log_file_is_json_lines_of_the_run(en_run: Run) -> None:
    lines = (en_run.folder / "logs" / "run.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events[0] == "run_started"
    assert events.count("chapter_committed") == sum(
        o["attempts"] for o in en_run.outcomes().values()
    )


def test_reports_agree_with_the_summary(en_run: Run) -> None:
    summary = en_run.summary
    assert en_run.read_json("findings.json") == summary["findings"]
    metrics = en_run.read_json("metrics.json")
    assert metrics["run_id"] == summary["run_id"]
    assert metrics["chapters"] == summary["chapter_outcomes"]
    assert len(metrics["llm"]["calls"]) == summary["model_calls"]
    assert len(en_run.read_json("outline.json")["chapters"]) == summary["chapters"]


def test_epub_lists_the_chapters_in_order(en_run: Run) -> None:
    with zipfile.ZipFile(en_run.folder / "manuscript.epub") as epub:
        nav = epub.read("OEBPS/nav.xhtml").decode("utf-8")
        pages = sorted(n for n in epub.namelist() if re.fullmatch(r"OEBPS/chapter-\d+\.xhtml", n))
    assert pages == [f"OEBPS/chapter-{n:03d}.xhtml" for n in range(1, 7)]
    assert re.findall(r">Chapter (\d+): ", nav) == [str(n) for n in range(1, 7)]


def test_a_given_outline_is_the_authors(run_cli: RunCli, tmp_path: Path) -> None:
    """Its titles are kept; its threads are counted and tracked like planned ones."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    cast = [character["name"] for character in data["characters"]]
    titles = ["The Ledger Opens", "Fog on the Quay", "The Debt Is Called", "Lamps Out"]
    data["project"]["chapters"] = 4
    data["project"]["outline"] = [
        {"number": n, "title": title, "pov": cast[n % 3], "setting": "the quay", "beats": ["b"]}
        for n, title in enumerate(titles, start=1)
    ]
    data["project"]["outline"][0]["plants"] = ["the-ghost-ship", "the-brass-key"]
    data["project"]["outline"][1]["plants"] = ["the-debt"]
    data["project"]["outline"][2]["payoffs"] = ["the-debt"]
    data["project"]["outline"][3]["payoffs"] = ["the-ghost-ship", "the-brass-key"]
    config = write_project(tmp_path, yaml.safe_dump(data, sort_keys=False), "given.yaml")
    run = run_cli(config, "project.target_words=200", "orchestrator.html_report=false")
    assert run.proc.returncode == 0, run.proc.stderr
    assert "outline: 4 chapters, 3 foreshadowing threads" in run.proc.stdout + run.proc.stderr
    threads = run.read_json("outline.json")["threads"]
    assert [t["id"] for t in threads] == ["the-ghost-ship", "the-brass-key", "the-debt"]
    for number, title in enumerate(titles, start=1):
        assert run.chapter_text(number).startswith(f"# Chapter {number}: {title}\n")
    assert run.summary["findings"] == []
    ledger = run.snapshot()["foreshadowing"]
    assert {ident: thread["status"] for ident, thread in ledger.items()} == dict.fromkeys(
        ["the-brass-key", "the-debt", "the-ghost-ship"], "paid_off"
    )
