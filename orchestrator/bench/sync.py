"""``orchestrator bench sync``: what an author's edit costs with ``sync``, against a rollback.

An offline book of ``chapters`` chapters is written once (``orchestrator run``
in a child process). Two copies of it are made (``state adopt``, so each is a
run of its own):

- in one, the author edits chapter ``k``: its point-of-view character goes
  somewhere else, or dies (one sentence added at the end), then
  ``orchestrator sync``;
- in the other, ``state rollback --to-chapter k`` and ``orchestrator resume``:
  what was possible before ``sync``, rewriting the ``N - k + 1`` chapters from
  ``k`` on (and losing the author's text of chapter ``k``).

It prints the chapters each rewrote and the wall time of each, as the
processes a user would run (start-up included).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.clients.journal import JOURNAL_FILE
from orchestrator.errors import OrchestratorError


class BenchSyncError(OrchestratorError, RuntimeError):
    """A child command of the benchmark failed (its stderr says why)."""


@dataclass(frozen=True)
class SyncBenchConfig:
    """What to measure."""

    config: Path
    chapters: int = 100
    edit_chapter: int = 10
    latency_ms: int = 100
    folder: Path | None = None
    edit: str = "move"  # or "death"


@dataclass(frozen=True)
class SyncBenchResult:
    """The figures of one edit: sync against rollback and resume."""

    chapters: int
    edit_chapter: int
    latency_ms: int
    edit: str  # what the author's sentence does
    write_s: float  # the first run, for scale
    sync_s: float
    sync_calls: int  # model calls the sync made
    sync_revised: list[int]
    sync_unchanged: int  # chapter files byte-identical after the sync
    rollback_s: float  # state rollback + resume
    rollback_calls: int
    rollback_rewritten: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_sync_bench(config: SyncBenchConfig) -> SyncBenchResult:
    """Write the book, then measure the edit both ways (see the module)."""
    with tempfile.TemporaryDirectory(prefix="bench-sync-", dir=config.folder) as tmp:
        base = Path(tmp) / "book"
        write_s = _timed(_run_command(config, base))
        outline = json.loads((base / "outline.json").read_text(encoding="utf-8"))
        sentence, edit = _sentence(outline, config.edit_chapter, config.edit)
        synced, rolled = _copy(base, Path(tmp) / "synced"), _copy(base, Path(tmp) / "rolled")
        before = _chapter_files(synced)
        calls = _calls(synced)
        chapter = synced / "chapters" / f"{config.edit_chapter:03d}.md"
        with chapter.open("a", encoding="utf-8") as text:
            text.write(f"\n{sentence}\n")
        started = time.perf_counter()
        result = json.loads(_check([*_cli(), "sync", str(synced), "--json"]).stdout)
        sync_s = time.perf_counter() - started
        sync_calls = _calls(synced) - calls
        after = _chapter_files(synced)
        unchanged = sum(1 for name, data in before.items() if after.get(name) == data)
        started = time.perf_counter()
        _check(
            [*_cli(), "state", "rollback", str(rolled), "--to-chapter", str(config.edit_chapter)]
        )
        _check([*_cli(), "resume", str(rolled), "--quiet"])
        rollback_s = time.perf_counter() - started
        rollback_calls = _calls(rolled) - calls
    return SyncBenchResult(
        chapters=config.chapters,
        edit_chapter=config.edit_chapter,
        latency_ms=config.latency_ms,
        edit=edit,
        write_s=round(write_s, 2),
        sync_s=round(sync_s, 2),
        sync_calls=sync_calls,
        sync_revised=list(result["revised"]),
        sync_unchanged=unchanged,
        rollback_s=round(rollback_s, 2),
        rollback_calls=rollback_calls,
        rollback_rewritten=config.chapters - config.edit_chapter + 1,
    )


def format_sync_bench(result: SyncBenchResult) -> str:
    """The figures as a few readable lines."""
    n, k = result.chapters, result.edit_chapter
    revised = ", ".join(map(str, result.sync_revised)) or "none"
    return "\n".join(
        [
            f"book: {n} chapters, offline, {result.latency_ms} ms a model call; "
            f"written in {result.write_s:.2f} s",
            f"edit: chapter {k}, {result.edit}",
            f"sync:                     {len(result.sync_revised):>3} chapters revised "
            f"({revised}), {result.sync_unchanged} files byte-identical, "
            f"{result.sync_calls} model calls, {result.sync_s:.2f} s",
            f"state rollback + resume:  {result.rollback_rewritten:>3} chapters rewritten "
            f"(N - k + 1), the edit lost, {result.rollback_calls} model calls, "
            f"{result.rollback_s:.2f} s",
        ]
    )


def _run_command(config: SyncBenchConfig, run_dir: Path) -> list[str]:
    sets = [
        f"project.chapters={config.chapters}",
        f"llm.latency_ms={config.latency_ms}",
        "llm.drift=0",
        "orchestrator.html_report=false",
    ]
    command = [*_cli(), "run", str(config.config), "--run-dir", str(run_dir), "--quiet"]
    for override in sets:
        command += ["--set", override]
    return command


def _sentence(outline: dict[str, Any], chapter: int, edit: str) -> tuple[str, str]:
    """The author's sentence for ``chapter``, and what it does: its point-of-view character
    dies, or goes to a setting of the book other than the chapter's."""
    plan = outline["chapters"][chapter - 1]
    who = plan["pov"]
    if edit == "death":
        return f"{who} died on the quay.", f"{who} dies"
    settings = sorted({c["setting"] for c in outline["chapters"]} - {plan["setting"]})
    if not settings:
        raise BenchSyncError("the outline has one setting only: nowhere to move to")
    return f"{who} went to {settings[0]}.", f"{who} -> {settings[0]}"


def _copy(base: Path, target: Path) -> Path:
    shutil.copytree(base, target, symlinks=True)
    _check([*_cli(), "state", "adopt", str(target)])
    return target


def _calls(run_dir: Path) -> int:
    """The model calls the run folder's journal records so far."""
    journal = run_dir / JOURNAL_FILE
    return len(journal.read_bytes().splitlines()) if journal.exists() else 0


def _chapter_files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run_dir / "chapters").glob("*.md"))}


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    _check(command)
    return time.perf_counter() - started


def _cli() -> list[str]:
    return [sys.executable, "-m", "orchestrator"]


def _check(command: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchSyncError(f"{' '.join(command[2:4])} exited {done.returncode}: {done.stderr}")
    return done
