"""``orchestrator sync``: the author edits chapters; only the chapters the edits contradict
are revised, the author's text is kept byte for byte, and nothing else changes.

Each test writes its own offline book (six chapters, no drift: nothing was revised
before the sync), edits chapter files as an author would, and checks the book
against the store: the chapters revised are exactly those whose read sets (the
values each chapter relied on, before the sync) the final book contradicts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from state.models import StoryState
from tests.e2e.conftest import SMALL, Run, RunCli, orchestrator, write_project

Kept = dict[int, dict[str, Any]]


def _kept(run: Run) -> Kept:
    return {e["chapter"]: e for e in run.history() if not e["superseded"]}


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of the run folder, by relative path (logs and locks aside)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "logs" not in p.parts and not p.name.endswith((".lock", ".tickets"))
    }


def _chapters(run: Run) -> dict[int, bytes]:
    return {int(p.stem): p.read_bytes() for p in sorted((run.folder / "chapters").glob("*.md"))}


def _edit(run: Run, chapter: int, sentence: str) -> bytes:
    """The author adds a paragraph to a chapter file; the file as the author left it."""
    path = run.folder / "chapters" / f"{chapter:03d}.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + sentence + "\n", encoding="utf-8")
    return path.read_bytes()


def _contradicted(run: Run, before: Kept, after: Kept) -> set[int]:
    """The chapters whose read sets before the sync the final book contradicts: the final
    kept deltas folded in chapter order, each chapter's old reads checked against them."""
    docs = StoryState.model_validate(run.snapshot(as_of_chapter=1)).documents()
    found = set()
    for n in sorted(after):
        old = before[n]
        expected = [(c["key"], c["field"], c["old"]) for c in old["changes"]]
        expected += [(r["key"], r["field"], r["value"]) for r in old["reads"]]
        if any(docs.get(key, {}).get(field) != value for key, field, value in expected):
            found.add(n)
        for change in after[n]["changes"]:
            docs.setdefault(change["key"], {})[change["field"]] = change["new"]
    return found


def _sync(run: Run, *flags: str) -> dict[str, Any]:
    proc = orchestrator("sync", run.folder, "--json", *flags, cwd=run.folder.parent)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def _book(run_cli: RunCli, tmp_path: Path) -> Run:
    run = run_cli(write_project(tmp_path), *SMALL)
    assert run.proc.returncode == 0, run.proc.stderr
    assert run.summary["revisions"] == 0
    return run


def _outline(run: Run) -> dict[int, list[str]]:
    return {c["number"]: c["characters"] for c in run.read_json("outline.json")["chapters"]}


def _relied(before: Kept, key: str, field: str, value: Any, after: int) -> set[int]:
    """The chapters after ``after`` that read ``field`` of ``key`` as ``value``."""
    return {
        n
        for n, event in before.items()
        if n > after
        and (
            any((r["key"], r["field"], r["value"]) == (key, field, value) for r in event["reads"])
            or any(
                (c["key"], c["field"], c["old"]) == (key, field, value) for c in event["changes"]
            )
        )
    }


def _victim(run: Run, before: Kept, chapter: int) -> tuple[str, set[int]]:
    """A character on stage in ``chapter`` whom later chapters rely on being alive."""
    relied = {
        name: _relied(before, f"characters/{name}", "alive", True, chapter)
        for name in _outline(run)[chapter]
    }
    name = max(relied, key=lambda n: (len(relied[n]), n))
    assert relied[name], relied
    return name, relied[name]


def _check_sync(run: Run, edited: dict[int, bytes], before: Kept, files: dict[int, bytes]) -> Kept:
    """The book after a sync: edits kept, exactly the contradicted chapters revised, every
    other chapter file byte-identical, the manifest verified. The kept deltas after it."""
    after = _kept(run)
    now = _chapters(run)
    for n, text in edited.items():
        assert now[n] == text, f"chapter {n} is not what the author wrote"
        assert after[n]["author"] == "human"
        assert after[n]["attempt"] > before[n]["attempt"]
    revised = {n for n in after if after[n]["attempt"] != before[n]["attempt"]} - set(edited)
    assert revised == _contradicted(run, before, after) - set(edited)
    for n in set(now) - revised - set(edited):
        assert now[n] == files[n], f"chapter {n} changed"
    assert all(after[n]["author"] != "human" for n in revised)
    verified = orchestrator("verify", run.folder, cwd=run.folder)
    assert verified.returncode == 0, verified.stdout
    return after


def test_a_death_revises_exactly_the_chapters_that_relied_on_the_living(
    run_cli: RunCli, tmp_path: Path
) -> None:
    run = _book(run_cli, tmp_path)
    before, files = _kept(run), _chapters(run)
    victim, relied = _victim(run, before, 2)
    edited = {2: _edit(run, 2, f"{victim} died on the quay.")}
    result = _sync(run)
    after = _check_sync(run, edited, before, files)
    assert relied <= set(result["revised"])
    assert result["extracted"] == [2]
    dead = f"characters/{victim}"
    assert any(c["key"] == dead and c["new"] is False for c in after[2]["changes"])
    for n in range(3, 7):  # the dead do not act again
        assert all(c["key"] != dead for c in after[n]["changes"]), n
    for n in relied:
        notes = result["notes"][str(n)]
        assert any("chapter 2 was edited by the author" in note for note in notes), notes


def test_a_move_revises_the_chapter_that_read_where_she_was(
    run_cli: RunCli, tmp_path: Path
) -> None:
    run = _book(run_cli, tmp_path)
    before, files = _kept(run), _chapters(run)
    edited = {2: _edit(run, 2, "Mara Quell went to the Drowned Anchor tavern.")}
    result = _sync(run)
    after = _check_sync(run, edited, before, files)
    assert result["revised"], result
    mara = ("characters/Mara Quell", "location", "the Drowned Anchor tavern")
    changes = [(c["key"], c["field"], c["new"]) for c in after[2]["changes"]]
    assert mara in changes
    assert ("characters/Mara Quell", "alive", False) not in changes  # a move, not a death
    # The summary tells the author's own chapter apart from the model's revisions.
    outcomes = {o["chapter"]: o["status"] for o in run.summary["chapter_outcomes"]}
    assert outcomes[2] == "edited"
    assert {outcomes[n] for n in result["revised"]} == {"revised"}
    assert run.summary["edited"] == 1
    status = orchestrator("status", run.folder, cwd=tmp_path).stdout
    assert "1 your own text" in status


def test_a_lost_item_revises_the_chapters_that_read_what_she_held(
    run_cli: RunCli, tmp_path: Path
) -> None:
    run = _book(run_cli, tmp_path)
    before, files = _kept(run), _chapters(run)
    edited = {1: _edit(run, 1, "Mara Quell lost her father's ledger in the fog.")}
    result = _sync(run)
    after = _check_sync(run, edited, before, files)
    assert result["revised"], result
    held = [c["new"] for c in after[1]["changes"] if c["field"] == "inventory"]
    assert held
    assert all("her father's ledger" not in items for items in held)


def test_a_later_chapter_the_author_edited_gets_a_finding_not_a_revision(
    run_cli: RunCli, tmp_path: Path
) -> None:
    run = _book(run_cli, tmp_path)
    before, files = _kept(run), _chapters(run)
    victim, relied = _victim(run, before, 2)
    later = max(relied)
    edited = {
        2: _edit(run, 2, f"{victim} died on the quay."),
        later: _edit(run, later, "The fog lifted for an hour, and nobody trusted it."),
    }
    result = _sync(run)
    _check_sync(run, edited, before, files)
    assert later not in result["revised"]
    assert {f["chapter"] for f in result["author_findings"]} == {later}
    findings = run.read_json("findings.json")
    mine = [f for f in findings if f["chapter"] == later and f["subject"] == victim]
    assert any("your own text" in f["detail"] for f in mine), mine


def test_a_dry_run_prints_the_plan_and_changes_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    run = _book(run_cli, tmp_path)
    _edit(run, 2, "Ilse Varga died on the quay.")
    files = _files(run.folder)
    proc = orchestrator("sync", run.folder, "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "chapter 2: edited by the author" in proc.stdout
    assert "Ilse Varga · alive or dead: dead" in proc.stdout
    assert "to revise" in proc.stdout
    assert "dry run: nothing was changed" in proc.stdout
    assert _files(run.folder) == files


def test_nothing_edited_is_said_and_nothing_changes(run_cli: RunCli, tmp_path: Path) -> None:
    run = _book(run_cli, tmp_path)
    files = _files(run.folder)
    proc = orchestrator("sync", run.folder, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to sync" in proc.stdout
    assert _files(run.folder) == files


def test_a_second_sync_finds_nothing_to_do(run_cli: RunCli, tmp_path: Path) -> None:
    run = _book(run_cli, tmp_path)
    _edit(run, 2, "Ilse Varga died on the quay.")
    _sync(run)
    files = _files(run.folder)
    again = _sync(run)
    assert not again["done"]
    assert not again["revised"]
    assert _files(run.folder) == files


def test_history_shows_the_authors_attempt(run_cli: RunCli, tmp_path: Path) -> None:
    run = _book(run_cli, tmp_path)
    text = _edit(run, 3, "Mara Quell went to the Drowned Anchor tavern.")
    _sync(run)
    proc = orchestrator("state", "history", run.folder, "--chapter", "3", cwd=tmp_path)
    attempts = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(a["attempt"], a["author"], a["superseded"]) for a in attempts] == [
        (1, "writer", True),
        (2, "human", False),
    ]
    body = text.decode("utf-8").partition("\n\n")[2].removesuffix("\n")
    record = orchestrator("status", run.folder, "--json", cwd=tmp_path)
    assert record.returncode == 0
    assert (run.folder / "drafts" / "003-2.md").read_bytes() == text
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert attempts[1]["digest"] == digest


def test_a_chinese_books_sync_speaks_chinese(run_cli: RunCli, tmp_path: Path) -> None:
    from tests.e2e.conftest import ZH_PROJECT

    config = write_project(tmp_path, ZH_PROJECT, "novel.yaml")
    run = run_cli(config, "project.target_words=200", "llm.drift=0")
    assert run.proc.returncode == 0, run.proc.stderr
    before, files = _kept(run), _chapters(run)
    victim, _ = _victim(run, before, 2)
    edited = {2: _edit(run, 2, f"{victim}死在了灯塔下。")}
    proc = orchestrator("sync", run.folder, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "第2章：作者改过" in proc.stdout
    assert "已同步" in proc.stdout
    assert "第2章经作者改写" in proc.stdout
    assert "chapter" not in proc.stdout.lower()
    _check_sync(run, edited, before, files)


def test_a_changed_plan_rewrites_its_chapter_and_revises_what_it_contradicts(
    run_cli: RunCli, tmp_path: Path
) -> None:
    run = _book(run_cli, tmp_path)
    before, files = _kept(run), _chapters(run)
    # The author edits chapter 3's setting in outline.yaml: its cast ends it elsewhere.
    path = run.folder / "outline.yaml"
    text = path.read_text(encoding="utf-8")
    block = text.index("# Chapter 3\n")
    setting = text.index("  setting: ", block)
    end = text.index("\n", setting)
    new = "the lighthouse on Gull Rock"
    path.write_text(text[:setting] + f"  setting: {new}" + text[end:], encoding="utf-8")
    result = _sync(run)
    assert result["plan"]["replanned"] == [3]
    assert result["rewritten"] == [3]
    after = _kept(run)
    assert after[3]["attempt"] == 2
    assert after[3]["author"] == "writer"
    places = {c["new"] for c in after[3]["changes"] if c["field"] == "location"}
    assert new in places
    revised = {n for n in after if after[n]["attempt"] != before[n]["attempt"]} - {3}
    assert revised == _contradicted(run, before, after) - {3}
    now = _chapters(run)
    for n in set(now) - revised - {3}:
        assert now[n] == files[n], f"chapter {n} changed"
    assert run.read_json("outline.json")["chapters"][2]["setting"] == new
    assert (run.folder / "outlines" / "002.yaml").read_bytes() == path.read_bytes()
    again = _sync(run)
    assert not again["done"]


def test_a_malformed_outline_is_refused_with_its_line_and_nothing_changes(
    run_cli: RunCli, tmp_path: Path
) -> None:
    run = _book(run_cli, tmp_path)
    path = run.folder / "outline.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  pov: Mara Quell", "  pov: Nobody Known", 1), encoding="utf-8")
    files = _files(run.folder)
    proc = orchestrator("sync", run.folder, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert "outline.yaml" in proc.stderr
    assert "line" in proc.stderr
    assert _files(run.folder) == files


def test_rewrite_writes_one_chapter_again_with_the_authors_notes(
    run_cli: RunCli, tmp_path: Path
) -> None:
    book = _book(run_cli, tmp_path)
    run = book.folder
    before = {p.name: p.read_bytes() for p in (run / "chapters").glob("*.md")}

    proc = orchestrator(
        "rewrite",
        run,
        "--chapter",
        "3",
        "--note",
        "make the confrontation quieter",
        "--note",
        "end on Mara alone",
        cwd=tmp_path,
    )

    assert proc.returncode == 0, proc.stderr
    assert (
        "chapter 3: written again, as the author asks: make the confrontation quieter; "
        "end on Mara alone" in proc.stdout
    )
    after = {p.name: p.read_bytes() for p in (run / "chapters").glob("*.md")}
    assert after["003.md"] != before["003.md"]
    assert {n for n in before if before[n] == after[n]} == set(before) - {"003.md"}  # the
    # offline model's new draft changes nothing later chapters read: none is revised
    assert orchestrator("verify", run, cwd=tmp_path).returncode == 0
    attempts = [e for e in book.history() if e["chapter"] == 3]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert attempts[1]["reason"] == (
        "the author asks: make the confrontation quieter; the author asks: end on Mara alone"
    )
    assert (run / "drafts" / "003-1.md").read_bytes() == before["003.md"]  # nothing lost


def test_rewrite_refuses_a_chapter_whose_edits_are_not_synced(
    run_cli: RunCli, tmp_path: Path
) -> None:
    run = _book(run_cli, tmp_path).folder
    chapter = run / "chapters" / "003.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nAn edit.\n", encoding="utf-8")
    snapshot = _files(run)

    proc = orchestrator("rewrite", run, "--chapter", "3", "--note", "quieter", cwd=tmp_path)

    assert proc.returncode == 2
    assert "chapter 3's file has edits not yet synced" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _files(run) == snapshot
