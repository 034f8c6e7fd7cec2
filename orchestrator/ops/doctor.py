"""``orchestrator doctor RUN-or-STATE-URL``: is this run (or store) healthy, and if not, why.

Each check passes or fails with a reason; warnings do not fail the report.
The checks: the store opens; the backend's own checks (SQLite: WAL mode,
busy_timeout, schema version, ``PRAGMA integrity_check``; JSON: parse,
checksum and schema); the story state, chapter records and history validate;
no stale lease; for a run folder, its record and config read, the store is
this folder's (a copy's is a warning), the store keeps the chapters the
summary and the manifest list, the manifest verifies, no temp file was left
behind; and the free disk space.

``orchestrator run`` and ``resume`` do the quick part before they write
anything: the store opens (which checks its schema and, for SQLite, runs
``quick_check``) and the disk has room.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from orchestrator.artifacts.folder import (
    MIN_FREE_MB,
    SUMMARY_FILE,
    RunFolder,
    RunFolderError,
    disk_check,
)
from orchestrator.artifacts.manifest import MANIFEST_FILE, ManifestError, verify
from orchestrator.artifacts.ownership import RUN_DOC, copied_from, copy_refusal
from orchestrator.project.bible import load_run_config
from orchestrator.project.problems import ConfigError
from state import HealthCheck, StateError, StateManager, open_state
from state.atomic import stale_temp_files
from state.url import parse_state_url


def level(check: HealthCheck) -> str:
    """What a check came to: ``ok`` when it passed, else how bad its failure is
    (``warning``: reported, the target still healthy; ``error``: unhealthy).
    ``HealthCheck.level`` is the severity its failure would have, not its result."""
    return "ok" if check.ok else check.level


@dataclass
class DoctorReport:
    """Every check of one target."""

    target: str
    checks: list[HealthCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok or c.level == "warning" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ok": self.ok,
            "checks": [
                {"name": c.name, "ok": c.ok, "level": level(c), "detail": c.detail, **c.data}
                for c in self.checks
            ],
        }

    def render(self) -> str:
        lines = [f"doctor: {self.target}"]
        marks = {"ok": "ok  ", "warning": "WARN", "error": "FAIL"}
        for c in self.checks:
            lines.append(f"  {marks[level(c)]} {c.name}: {c.detail}")
        failed = sum(not c.ok and c.level == "error" for c in self.checks)
        lines.append("healthy" if self.ok else f"{failed} check(s) failed")
        return "\n".join(lines)


async def diagnose(target: str, min_free_mb: int = MIN_FREE_MB) -> DoctorReport:
    """Check a run folder (a path to a folder) or a state store (a URL)."""
    if "://" not in target:
        return DoctorReport(target, await _run_checks(Path(target), min_free_mb))
    checks = await store_checks(target)
    location = _local_folder(target)
    if location is not None:
        checks.append(disk_check(location, min_free_mb))
    return DoctorReport(target, checks)


async def _run_checks(root: Path, min_free_mb: int) -> list[HealthCheck]:
    try:
        folder = RunFolder.existing(root)
        url = folder.store_url()
    except RunFolderError as exc:
        return [HealthCheck("run.record", False, str(exc))]
    checks = [HealthCheck("run.record", True, f"{folder.path('run.json')} reads")]
    checks.append(_config_check(folder))
    checks += await store_checks(url, folder=folder)
    checks.append(_manifest_check(folder))
    checks.append(_temp_files_check(folder))
    checks.append(disk_check(folder.root, min_free_mb))
    return checks


async def store_checks(
    url: str, *, deep: bool = True, folder: RunFolder | None = None
) -> list[HealthCheck]:
    """The store opens, passes its backend's checks, and holds valid content and leases;
    with the run ``folder``, it is that folder's, and its chapters are the book's."""
    try:
        async with open_state(url, create=False) as manager:
            checks = [HealthCheck("store.open", True, f"{url} opens")]
            if deep:
                checks += await manager.backend.health()
            checks.append(await _content_check(manager))
            checks.append(await _lease_check(manager))
            if folder is not None:
                checks.append(await _owner_check(manager, folder, url))
                checks.append(await _records_check(manager, folder))
            return checks
    except (StateError, OSError) as exc:
        return [HealthCheck("store.open", False, str(exc))]


async def _content_check(manager: StateManager) -> HealthCheck:
    try:
        story = await manager.snapshot()
        chapters = await manager.chapters()
        events = await manager.history()
    except (ValidationError, ValueError, KeyError) as exc:
        return HealthCheck("store.content", False, f"the story state does not validate: {exc}")
    return HealthCheck(
        "store.content",
        True,
        f"story state valid: {len(story.characters)} characters, {len(chapters)} chapter "
        f"records, {len(events)} committed deltas",
    )


async def _lease_check(manager: StateManager) -> HealthCheck:
    now = time.time()
    leases = await manager.leases()
    stale = [f"{lease.name} ({lease.stale_reason(now)})" for lease in leases if lease.stale(now)]
    if stale:
        return HealthCheck(
            "leases",
            False,
            "stale: " + "; ".join(stale) + " (the next run or resume takes them over)",
            data={"stale": len(stale)},
        )
    live = len(leases)
    return HealthCheck("leases", True, f"no stale lease ({live} held by live writers)")


async def _owner_check(manager: StateManager, folder: RunFolder, url: str) -> HealthCheck:
    """The store is this folder's run's; a copy's is a warning until it is adopted."""
    try:
        claimed = await manager.meta(RUN_DOC) or {}
    except (ValidationError, ValueError, KeyError) as exc:
        return HealthCheck("store.owner", False, f"the store's run record does not read: {exc}")
    if claimed and claimed.get("run_id") != folder.run_id:
        return HealthCheck(
            "store.owner",
            False,
            f"the store holds run {claimed.get('run_id')!r}, not this folder's run "
            f"{folder.run_id!r}",
        )
    original = copied_from(folder, claimed)
    if original is not None:
        return HealthCheck("store.owner", False, copy_refusal(folder, url, original), "warning")
    return HealthCheck("store.owner", True, f"the store holds this folder's run {folder.run_id!r}")


async def _records_check(manager: StateManager, folder: RunFolder) -> HealthCheck:
    """The chapters the store keeps are the chapters the summary and the manifest list."""
    try:
        records = await manager.chapters()
    except (ValidationError, ValueError, KeyError) as exc:
        return HealthCheck("store.chapters", False, f"the chapter records do not read: {exc}")
    kept = {n for n, record in records.items() if record.status in ("written", "revised")}
    sources: dict[str, set[int]] = {}
    try:
        if folder.path(SUMMARY_FILE).is_file():
            outcomes = folder.read_json(SUMMARY_FILE)["chapter_outcomes"]
            sources[SUMMARY_FILE] = {o["chapter"] for o in outcomes if o["status"] != "failed"}
        if folder.path(MANIFEST_FILE).is_file():
            files = folder.read_json(MANIFEST_FILE)["files"]
            names = (PurePosixPath(f["path"]) for f in files)
            sources[MANIFEST_FILE] = {
                int(p.stem) for p in names if p.parent.name == "chapters" and p.stem.isdigit()
            }
    except (RunFolderError, KeyError, TypeError) as exc:
        return HealthCheck("store.chapters", False, f"cannot read the book's chapters: {exc}")
    if not sources:
        return HealthCheck(
            "store.chapters", True, f"{len(kept)} chapters kept; the run has not finished"
        )
    differ = {name: chapters for name, chapters in sources.items() if chapters != kept}
    if not differ:
        listed = " and ".join(sources)
        return HealthCheck(
            "store.chapters", True, f"the store's {len(kept)} kept chapters are those {listed} list"
        )
    said = "; ".join(f"{name} lists {_span(chapters)}" for name, chapters in differ.items())
    return HealthCheck(
        "store.chapters",
        False,
        f"the store keeps chapters {_span(kept)} but {said}: the store was changed after the "
        f"book was written (a rollback?); rewrite the book from the store with: "
        f"orchestrator resume {folder.root}",
    )


def _span(chapters: set[int]) -> str:
    """``1-5, 7`` (``none`` for no chapter)."""
    if not chapters:
        return "none"
    runs: list[list[int]] = []
    for n in sorted(chapters):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _config_check(folder: RunFolder) -> HealthCheck:
    try:
        config = load_run_config(folder.root)  # and bible.yaml, for a premise-only project
    except ConfigError as exc:
        return HealthCheck("run.config", False, str(exc))
    chapters = config.project.chapters
    return HealthCheck("run.config", True, f"config.yaml valid ({chapters} chapters)")


def _manifest_check(folder: RunFolder) -> HealthCheck:
    if not folder.path(MANIFEST_FILE).exists():
        if folder.path(SUMMARY_FILE).exists():
            return HealthCheck("manifest", False, "the run finished but MANIFEST.json is missing")
        return HealthCheck(
            "manifest", False, "no manifest yet: the run has not finished", "warning"
        )
    try:
        result = verify(folder)
    except ManifestError as exc:
        return HealthCheck("manifest", False, str(exc))
    if result.ok:
        return HealthCheck("manifest", True, f"{result.checked} files match MANIFEST.json")
    problems = [
        *(f"{p} missing" for p in result.missing),
        *(f"{p} changed" for p in result.changed),
        *(f"{p} not listed" for p in result.unlisted),
    ]
    return HealthCheck("manifest", False, "does not verify: " + ", ".join(problems))


def _temp_files_check(folder: RunFolder) -> HealthCheck:
    dirs = [folder.root, *(folder.root / d for d in ("chapters", "drafts"))]
    dirs = [d for d in dirs if d.is_dir()]
    left = [p for d in dirs for p in stale_temp_files(d)]
    if not left:
        return HealthCheck("temp_files", True, "no temp file left behind")
    names = ", ".join(p.name for p in left[:5])
    return HealthCheck(
        "temp_files",
        False,
        f"{len(left)} temp file(s) left by a killed writer ({names}); harmless, safe to delete",
        "warning",
    )


def _local_folder(url: str) -> Path | None:
    try:
        path = parse_state_url(url).local_file()
    except StateError:
        return None
    return None if path is None else path.parent  # a Redis store has no folder here
