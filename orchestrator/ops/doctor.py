"""``orchestrator doctor RUN-or-STATE-URL``: is this run (or store) healthy, and if not, why.

Each check passes or fails with a reason; warnings do not fail the report.
The checks: the store opens; the backend's own checks (SQLite: WAL mode,
busy_timeout, schema version, ``PRAGMA integrity_check``; JSON: parse,
checksum and schema); the story state, chapter records and history validate;
no stale lease; for a run folder, its record and config read, the manifest
verifies, no temp file was left behind; and the free disk space.

``orchestrator run`` and ``resume`` do the quick part before they write
anything: the store opens (which checks its schema and, for SQLite, runs
``quick_check``) and the disk has room.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
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
from orchestrator.project.load import load_config
from orchestrator.project.problems import ConfigError
from state import HealthCheck, StateError, StateManager, open_state
from state.atomic import stale_temp_files
from state.url import parse_state_url


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
                {"name": c.name, "ok": c.ok, "level": c.level, "detail": c.detail, **c.data}
                for c in self.checks
            ],
        }

    def render(self) -> str:
        lines = [f"doctor: {self.target}"]
        for c in self.checks:
            mark = "ok  " if c.ok else ("WARN" if c.level == "warning" else "FAIL")
            lines.append(f"  {mark} {c.name}: {c.detail}")
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
    checks += await store_checks(url)
    checks.append(_manifest_check(folder))
    checks.append(_temp_files_check(folder))
    checks.append(disk_check(folder.root, min_free_mb))
    return checks


async def store_checks(url: str, *, deep: bool = True) -> list[HealthCheck]:
    """The store opens, passes its backend's checks, and holds valid content and leases."""
    try:
        async with open_state(url, create=False) as manager:
            checks = [HealthCheck("store.open", True, f"{url} opens")]
            if deep:
                checks += await manager.backend.health()
            checks.append(await _content_check(manager))
            checks.append(await _lease_check(manager))
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


def _config_check(folder: RunFolder) -> HealthCheck:
    try:
        config = load_config(folder.path("config.yaml"))
    except ConfigError as exc:
        return HealthCheck("run.config", False, str(exc))
    chapters = config.project.chapters
    return HealthCheck("run.config", True, f"config.yaml valid ({chapters} chapters)")


def _manifest_check(folder: RunFolder) -> HealthCheck:
    if not folder.path(MANIFEST_FILE).exists():
        if folder.path(SUMMARY_FILE).exists():
            return HealthCheck("manifest", False, "the run finished but MANIFEST.json is missing")
        return HealthCheck("manifest", True, "no manifest yet: the run has not finished", "warning")
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
