"""``orchestrator publish``, ``rollback`` and ``history``: the gate, CURRENT and HISTORY."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Run, RunCli, orchestrator


def publish(run: Path, pub: Path, *extra: str, note: str = "first") -> Any:
    return orchestrator(
        "publish",
        run,
        "--approver",
        "Ana",
        "--note",
        note,
        "--publish-dir",
        pub,
        *extra,
        cwd=run.parent,
    )


def current(pub: Path) -> dict[str, Any]:
    return dict(json.loads((pub / "CURRENT.json").read_text(encoding="utf-8")))


def history_lines(pub: Path) -> list[dict[str, Any]]:
    text = (pub / "HISTORY.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def copy_of(run: Run, tmp_path: Path, name: str = "copy") -> Path:
    """A copy of a finished run folder (the copy shares nothing the test changes)."""
    target = tmp_path / name
    shutil.copytree(run.folder, target)
    return target


def test_publish_records_the_version_and_copies_the_book(en_run: Run, tmp_path: Path) -> None:
    pub = tmp_path / "pub"
    proc = publish(en_run.folder, pub)

    assert proc.returncode == 0, proc.stderr
    assert "published version 1" in proc.stdout
    record = current(pub)
    assert record["version"] == 1
    assert record["approver"] == "Ana"
    assert record["note"] == "first"
    assert record["forced"] is False
    assert record["manifest_digest"] == en_run.read_json("MANIFEST.json")["digest"]
    assert all(check["ok"] for check in record["gate"])
    copied = (pub / "v0001" / "manuscript.md").read_bytes()
    assert copied == (en_run.folder / "manuscript.md").read_bytes()
    assert [e["version"] for e in history_lines(pub)] == [1]


def test_the_same_book_twice_fails_the_gate_unless_forced(en_run: Run, tmp_path: Path) -> None:
    pub = tmp_path / "pub"
    assert publish(en_run.folder, pub).returncode == 0

    again = publish(en_run.folder, pub, note="again")

    assert again.returncode == 1
    assert "FAIL new_version: already published as version 1" in again.stdout
    assert "--force" in again.stderr
    assert len(history_lines(pub)) == 1

    forced = publish(en_run.folder, pub, "--force", note="forced")
    assert forced.returncode == 0, forced.stderr
    assert current(pub)["version"] == 2
    assert current(pub)["forced"] is True


def test_a_changed_chapter_fails_the_manifest_gate(en_run: Run, tmp_path: Path) -> None:
    run = copy_of(en_run, tmp_path)
    chapter = run / "chapters" / "002.md"
    chapter.write_text(chapter.read_text(encoding="utf-8") + "\nAn edit.\n", encoding="utf-8")
    pub = tmp_path / "pub"

    proc = publish(run, pub, "--json")

    assert proc.returncode == 1
    gate = {c["name"]: c for c in json.loads(proc.stdout)["gate"]}
    assert not gate["manifest"]["ok"]
    assert "chapters/002.md" in gate["manifest"]["detail"]
    assert not (pub / "HISTORY.jsonl").exists()


def test_findings_over_the_limit_fail_the_gate(en_run: Run, tmp_path: Path) -> None:
    run = copy_of(en_run, tmp_path)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    summary["findings"] = [{"chapter": 1, "kind": "other", "detail": "a loose end"}]
    (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")

    proc = publish(run, tmp_path / "pub", "--json")

    gate = {c["name"]: c for c in json.loads(proc.stdout)["gate"]}
    assert proc.returncode == 1
    assert not gate["findings"]["ok"]
    assert "1 continuity findings (limit 0" in gate["findings"]["detail"]


def test_an_unfinished_run_cannot_be_published(en_run: Run, tmp_path: Path) -> None:
    run = copy_of(en_run, tmp_path)
    (run / "summary.json").unlink()

    proc = publish(run, tmp_path / "pub")

    assert proc.returncode == 1
    assert "the run has not finished" in proc.stderr


def test_rollback_makes_the_previous_version_current(en_run: Run, tmp_path: Path) -> None:
    pub = tmp_path / "pub"
    assert publish(en_run.folder, pub).returncode == 0
    assert publish(en_run.folder, pub, "--force", note="second").returncode == 0

    back = orchestrator(
        "rollback",
        "--approver",
        "Bo",
        "--note",
        "typo",
        "--publish-dir",
        pub,
        "--json",
        cwd=tmp_path,
    )

    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["to_version"] == 1
    assert current(pub)["version"] == 1
    events = history_lines(pub)
    assert [e["event"] for e in events] == ["publish", "publish", "rollback"]
    assert events[-1]["approver"] == "Bo"

    listing = orchestrator("history", "--publish-dir", pub, cwd=tmp_path)
    lines = listing.stdout.splitlines()
    assert len(lines) == 3
    assert "v1" in lines[0]
    assert lines[0].endswith("(current)")
    assert "rollback  v2 -> v1  by Bo: typo" in lines[2]


def test_rollback_with_nothing_to_go_back_to_is_a_clear_error(en_run: Run, tmp_path: Path) -> None:
    pub = tmp_path / "pub"
    args = ("rollback", "--approver", "Bo", "--note", "n", "--publish-dir", pub)

    empty = orchestrator(*args, cwd=tmp_path)
    assert empty.returncode == 2
    assert "nothing is published" in empty.stderr
    assert "Traceback" not in empty.stderr

    assert publish(en_run.folder, pub).returncode == 0
    only = orchestrator(*args, cwd=tmp_path)
    assert only.returncode == 2
    assert "version 1 is the only published version" in only.stderr
    assert len(history_lines(pub)) == 1


def test_history_json_and_an_empty_folder(en_run: Run, tmp_path: Path) -> None:
    pub = tmp_path / "pub"
    empty = orchestrator("history", "--publish-dir", pub, cwd=tmp_path)
    assert empty.returncode == 0
    assert "nothing published yet" in empty.stdout

    assert publish(en_run.folder, pub).returncode == 0
    listing = json.loads(
        orchestrator("history", "--publish-dir", pub, "--json", cwd=tmp_path).stdout
    )
    assert listing["current"] == 1
    assert [e["event"] for e in listing["events"]] == ["publish"]


def test_the_publish_folder_comes_from_the_project(project: Path, run_cli: RunCli) -> None:
    with project.open("a", encoding="utf-8") as handle:
        handle.write("publish:\n  folder: book\n")
    run = run_cli(project, "project.chapters=3", "project.target_words=150")

    proc = orchestrator(
        "publish", run.folder, "--approver", "Ana", "--note", "n", cwd=project.parent
    )

    assert proc.returncode == 0, proc.stderr
    assert (project.parent / "book" / "CURRENT.json").is_file()
    listing = orchestrator("history", "--config", project, cwd=project.parent)
    assert "v1" in listing.stdout


def test_publish_history_and_rollback_agree_on_the_folder(
    project: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    with project.open("a", encoding="utf-8") as handle:
        handle.write("publish:\n  folder: book\n")
    run = run_cli(project, "project.chapters=3", "project.target_words=150")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for note in ("first", "second"):
        args = ("publish", run.folder, "--approver", "Ana", "--note", note, "--force")
        assert orchestrator(*args, cwd=elsewhere).returncode == 0
    # In the project's folder, history finds what publish wrote there, with no option.
    listing = orchestrator("history", "--json", cwd=project.parent)
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)["current"] == 2
    back = orchestrator("rollback", "--approver", "Ana", "--note", "n", cwd=project.parent)
    assert back.returncode == 0, back.stderr
    assert json.loads((project.parent / "book" / "CURRENT.json").read_text())["version"] == 1
